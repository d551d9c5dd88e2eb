#include "parley/rpc/caller.h"

#include "absl/strings/numbers.h"
#include "parley/errors/errors.h"

namespace parley::rpc {
namespace {
constexpr char kSdkAppIdKey[] = "x-parley-sdkappid";
constexpr char kIdentifierKey[] = "x-parley-identifier";
constexpr char kRoleKey[] = "x-parley-role";
constexpr char kPlatformKey[] = "x-parley-platform";
constexpr char kClientIpKey[] = "x-parley-client-ip";

std::string Metadata(const grpc::ServerContext& context, const char* key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}
}  // namespace

void SetCaller(grpc::ClientContext& context, const Caller& caller) {
  context.AddMetadata(kSdkAppIdKey, std::to_string(caller.sdkappid));
  context.AddMetadata(kIdentifierKey, caller.identifier);
  context.AddMetadata(kRoleKey, caller.is_admin ? "admin" : "user");
  if (!caller.platform.empty()) context.AddMetadata(kPlatformKey, caller.platform);
  if (!caller.client_ip.empty()) context.AddMetadata(kClientIpKey, caller.client_ip);
}

absl::StatusOr<Caller> GetCaller(const grpc::ServerContext& context) {
  Caller caller;
  if (!absl::SimpleAtoi(Metadata(context, kSdkAppIdKey), &caller.sdkappid) ||
      caller.sdkappid == 0) {
    return errors::Error(errors::kMissingSdkAppId, "x-parley-sdkappid metadata is missing");
  }
  caller.identifier = Metadata(context, kIdentifierKey);
  caller.is_admin = Metadata(context, kRoleKey) == "admin";
  caller.platform = Metadata(context, kPlatformKey);
  caller.client_ip = Metadata(context, kClientIpKey);
  return caller;
}

}  // namespace parley::rpc
