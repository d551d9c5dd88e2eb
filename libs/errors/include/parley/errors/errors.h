// Error model shared by every Parley service.
//
// Inside a service, functions return absl::Status / absl::StatusOr. A Status
// made with Error() carries a Tencent ErrorCode (compat reference §2.5) as a
// payload; its canonical code comes from the one table in errors.cc. At the
// gRPC edge ToGrpc() puts the Tencent code into error_details (a serialized
// parley.v1.ErrorDetail) and FromGrpc() restores it, so the gateway answers
// REST and WebSocket callers with the exact code a service chose.
#pragma once

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace parley::errors {

// The Tencent error codes Parley emits, by name. Values are Tencent's.
enum Code : int32_t {
  kOk = 0,
  // Common REST (60000-60999).
  kHttpParse = 60002,
  kJsonParse = 60003,
  kSdkAppIdInvalid = 60006,
  kServiceTimeout = 60008,
  kBadResource = 60009,
  kRequiresAdmin = 60010,
  kMissingSdkAppId = 60012,
  kBadUrlParams = 60025,
  // UserSig and accounts (70000-71000).
  kSigExpired = 70001,
  kSigEmpty = 70002,
  kSigInvalid = 70003,
  kSigHmacMismatch = 70009,
  kSigIdentifierMismatch = 70013,
  kSigSdkAppIdMismatch = 70014,
  kSigNoKey = 70016,
  kSdkAppIdNotFound = 70020,
  kAccountNotImported = 70107,
  kAccountCountLimit = 70398,
  kAccountInvalidParam = 70402,
  kAccountInternal = 70500,
  // Body size (openim wording, used for every service).
  kBodyTooLarge = 93000,
};

// A Status with the canonical code the table assigns to `tencent_code` and
// `info` as its message (the caller-facing ErrorInfo).
absl::Status Error(int32_t tencent_code, absl::string_view info);

// The Tencent code a Status carries; for a Status without one, the code that
// stands for its canonical code (UNAVAILABLE/DEADLINE_EXCEEDED -> 60008,
// everything else -> `internal_fallback`). OK -> 0.
int32_t TencentCode(const absl::Status& status, int32_t internal_fallback = kAccountInternal);

// Canonical code for a Tencent code (the table; unknown codes map to
// FAILED_PRECONDITION, which is what business-rule refusals are).
absl::StatusCode CanonicalCode(int32_t tencent_code);

// What a caller may read of a status that carries no Tencent code (a
// dependency's failure: PostgreSQL, Redis, a gRPC transport): a fixed text
// by canonical code, never the dependency's own words, which stay in logs.
std::string PublicInfo(absl::StatusCode code);
// The ErrorInfo of `status`: its message when it carries a Tencent code,
// else PublicInfo() of its canonical code.
std::string InfoOf(const absl::Status& status);

// The one mapping between absl::Status and grpc::Status. A status without a
// Tencent code crosses it with PublicInfo() as its message.
grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace parley::errors
