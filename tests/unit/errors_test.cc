#include "parley/errors/errors.h"

#include <catch2/catch.hpp>

namespace errors = parley::errors;

TEST_CASE("a Tencent code survives the trip through gRPC", "[errors]") {
  absl::Status original = errors::Error(errors::kSigExpired, "usersig expired");
  CHECK(original.code() == absl::StatusCode::kUnauthenticated);
  grpc::Status wire = errors::ToGrpc(original);
  CHECK(wire.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(wire.error_message() == "usersig expired");
  absl::Status back = errors::FromGrpc(wire);
  CHECK(errors::TencentCode(back) == errors::kSigExpired);
  CHECK(back.message() == "usersig expired");
}

TEST_CASE("the table assigns canonical codes", "[errors]") {
  CHECK(errors::CanonicalCode(errors::kRequiresAdmin) == absl::StatusCode::kPermissionDenied);
  CHECK(errors::CanonicalCode(errors::kSdkAppIdNotFound) == absl::StatusCode::kNotFound);
  CHECK(errors::CanonicalCode(errors::kAccountInvalidParam) ==
        absl::StatusCode::kInvalidArgument);
  CHECK(errors::CanonicalCode(0) == absl::StatusCode::kOk);
  // Codes the table does not list are business-rule refusals.
  CHECK(errors::CanonicalCode(30539) == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("statuses without a Tencent code fall back by canonical code", "[errors]") {
  CHECK(errors::TencentCode(absl::OkStatus()) == 0);
  CHECK(errors::TencentCode(absl::UnavailableError("down")) == errors::kServiceTimeout);
  CHECK(errors::TencentCode(absl::DeadlineExceededError("slow")) == errors::kServiceTimeout);
  CHECK(errors::TencentCode(absl::InternalError("bug"), 90994) == 90994);
  grpc::Status plain(grpc::StatusCode::UNAVAILABLE, "connect failed");
  CHECK(errors::TencentCode(errors::FromGrpc(plain)) == errors::kServiceTimeout);
  CHECK(errors::ToGrpc(absl::OkStatus()).ok());
}

TEST_CASE("a dependency's own error text never crosses a service boundary", "[errors]") {
  // PostgreSQL's words (with the offending value) stay in the service's log.
  grpc::Status wire = errors::ToGrpc(absl::InternalError(
      "PostgreSQL error: ERROR: invalid byte sequence for encoding \"UTF8\": 0x00"));
  CHECK(wire.error_code() == grpc::StatusCode::INTERNAL);
  CHECK(wire.error_message() == "internal error; retry");
  CHECK(errors::ToGrpc(absl::UnavailableError("cannot connect to PostgreSQL: x")).error_message() ==
        "a service is unavailable or too slow; retry");
  // gRPC's own transport text is replaced on the way in as well.
  absl::Status back = errors::FromGrpc(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses; last error"));
  CHECK(back.message() == "a service is unavailable or too slow; retry");
  CHECK(errors::TencentCode(back) == errors::kServiceTimeout);
  // A Tencent-coded status keeps its own words.
  CHECK(errors::ToGrpc(errors::Error(70003, "usersig is not base64")).error_message() ==
        "usersig is not base64");
}
