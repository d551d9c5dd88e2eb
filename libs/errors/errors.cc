#include "parley/errors/errors.h"

#include <array>
#include <utility>

#include "absl/strings/numbers.h"
#include "parley/v1/common.pb.h"

namespace parley::errors {
namespace {

constexpr absl::string_view kPayloadUrl = "type.parley.dev/tencent-error-code";

struct Row {
  int32_t tencent_code;
  absl::StatusCode canonical;
};

// The one table: Tencent ErrorCode -> canonical (and so gRPC) code.
constexpr std::array kTable = {
    Row{kHttpParse, absl::StatusCode::kInvalidArgument},
    Row{kJsonParse, absl::StatusCode::kInvalidArgument},
    Row{kSdkAppIdInvalid, absl::StatusCode::kInvalidArgument},
    Row{kServiceTimeout, absl::StatusCode::kDeadlineExceeded},
    Row{kBadResource, absl::StatusCode::kNotFound},
    Row{kRequiresAdmin, absl::StatusCode::kPermissionDenied},
    Row{kMissingSdkAppId, absl::StatusCode::kInvalidArgument},
    Row{kBadUrlParams, absl::StatusCode::kInvalidArgument},
    Row{kSigExpired, absl::StatusCode::kUnauthenticated},
    Row{kSigEmpty, absl::StatusCode::kUnauthenticated},
    Row{kSigInvalid, absl::StatusCode::kUnauthenticated},
    Row{kSigHmacMismatch, absl::StatusCode::kUnauthenticated},
    Row{kSigIdentifierMismatch, absl::StatusCode::kUnauthenticated},
    Row{kSigSdkAppIdMismatch, absl::StatusCode::kUnauthenticated},
    Row{kSigNoKey, absl::StatusCode::kUnauthenticated},
    Row{kSdkAppIdNotFound, absl::StatusCode::kNotFound},
    Row{kAccountNotImported, absl::StatusCode::kNotFound},
    Row{kAccountCountLimit, absl::StatusCode::kResourceExhausted},
    Row{kAccountInvalidParam, absl::StatusCode::kInvalidArgument},
    Row{kAccountInternal, absl::StatusCode::kInternal},
    Row{kBodyTooLarge, absl::StatusCode::kInvalidArgument},
};

}  // namespace

absl::StatusCode CanonicalCode(int32_t tencent_code) {
  if (tencent_code == kOk) return absl::StatusCode::kOk;
  for (const Row& row : kTable) {
    if (row.tencent_code == tencent_code) return row.canonical;
  }
  return absl::StatusCode::kFailedPrecondition;
}

absl::Status Error(int32_t tencent_code, absl::string_view info) {
  absl::Status status(CanonicalCode(tencent_code), info);
  status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(tencent_code)));
  return status;
}

int32_t TencentCode(const absl::Status& status, int32_t internal_fallback) {
  if (status.ok()) return kOk;
  if (auto payload = status.GetPayload(kPayloadUrl)) {
    int32_t code = 0;
    if (absl::SimpleAtoi(std::string(*payload), &code)) return code;
  }
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kServiceTimeout;
    default:
      return internal_fallback;
  }
}

std::string PublicInfo(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return "a service is unavailable or too slow; retry";
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return "this caller may not make this call";
    case absl::StatusCode::kResourceExhausted:
      return "the server is busy; retry later";
    default:
      return "internal error; retry";
  }
}

std::string InfoOf(const absl::Status& status) {
  if (status.GetPayload(kPayloadUrl)) return std::string(status.message());
  return PublicInfo(status.code());
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload) return grpc::Status(code, PublicInfo(status.code()));
  v1::ErrorDetail detail;
  int32_t tencent = 0;
  absl::SimpleAtoi(std::string(*payload), &tencent);
  detail.set_error_code(tencent);
  detail.set_error_info(message);
  return grpc::Status(code, message, detail.SerializeAsString());
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  v1::ErrorDetail detail;
  if (!status.error_details().empty() && detail.ParseFromString(status.error_details()) &&
      detail.error_code() != 0) {
    return Error(detail.error_code(), detail.error_info());
  }
  auto code = static_cast<absl::StatusCode>(status.error_code());
  return absl::Status(code, PublicInfo(code));
}

}  // namespace parley::errors
