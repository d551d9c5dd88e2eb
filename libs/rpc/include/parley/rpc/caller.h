// Who is calling an internal service, carried in gRPC metadata.
//
// The gateway authenticates every public request and then calls services with
// x-parley-sdkappid and x-parley-identifier set; services scope all data by
// that SDKAppID. Internal gRPC ports must only be reachable from inside the
// cluster (see docs/architecture.md).
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
};

void SetCaller(grpc::ClientContext& context, const Caller& caller);

// InvalidArgument (Tencent 60012) when the SDKAppID is missing or malformed.
absl::StatusOr<Caller> GetCaller(const grpc::ServerContext& context);

}  // namespace parley::rpc
