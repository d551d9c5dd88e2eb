// Who is calling an internal service, carried in gRPC metadata.
//
// The gateway authenticates every public request and then calls services with
// x-parley-sdkappid and x-parley-identifier set; services scope all data by
// that SDKAppID. The metadata is believed only as far as the caller's
// certificate allows (rpc/tls.h, docs/security.md): only parley-gateway may
// act for an end user or an app admin; other services act as themselves
// (role "service"), and only on the RPCs rpc/access.h opens to them.
#pragma once

#include <cstdint>
#include <string>

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"

namespace parley::rpc {

struct Caller {
  uint64_t sdkappid = 0;
  std::string identifier;  // the operator (an app admin on REST)
  // An app admin (REST) rather than an end user (client protocol); admins
  // may act for other users, users only for themselves.
  bool is_admin = false;
  // The end user's client platform (iPhone, Android, Web, ...); empty on REST.
  std::string platform;
  // The address the request came from (Tencent's callback ClientIP).
  std::string client_ip;
  // A Parley service acting on its own behalf (internal RPCs such as Deliver
  // or GetTimelineHeads), not an admin or user; implies is_admin.
  bool is_service = false;
};

// A service acting for an app on its own behalf (identifier: "parley-<name>").
Caller ServiceCaller(uint64_t sdkappid, const std::string& service_identity);

void SetCaller(grpc::ClientContext& context, const Caller& caller);

// InvalidArgument (Tencent 60012) when the SDKAppID is missing or malformed;
// 60010 when a caller other than parley-gateway claims a user or an admin.
absl::StatusOr<Caller> GetCaller(const grpc::ServerContext& context);

}  // namespace parley::rpc
