#include "parley/rpc/caller.h"

#include "absl/strings/numbers.h"
#include "parley/errors/errors.h"
#include "parley/rpc/tls.h"

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

Caller ServiceCaller(uint64_t sdkappid, const std::string& service_identity) {
  Caller caller;
  caller.sdkappid = sdkappid;
  caller.identifier = service_identity;
  caller.is_admin = true;
  caller.is_service = true;
  return caller;
}

void SetCaller(grpc::ClientContext& context, const Caller& caller) {
  context.AddMetadata(kSdkAppIdKey, std::to_string(caller.sdkappid));
  context.AddMetadata(kIdentifierKey, caller.identifier);
  context.AddMetadata(kRoleKey, caller.is_service ? "service" : caller.is_admin ? "admin" : "user");
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
  std::string role = Metadata(context, kRoleKey);
  caller.is_service = role == "service";
  caller.is_admin = caller.is_service || role == "admin";
  if (!caller.is_service && PeerIdentity(context) != kGatewayIdentity) {
    return errors::Error(errors::kRequiresAdmin,
                         "only parley-gateway may act for an end user or an app admin");
  }
  caller.platform = Metadata(context, kPlatformKey);
  caller.client_ip = Metadata(context, kClientIpKey);
  return caller;
}

}  // namespace parley::rpc
