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
