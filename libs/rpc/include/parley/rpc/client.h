// gRPC client helpers: every call gets a deadline.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "parley/rpc/caller.h"

namespace parley::rpc {

// Default deadline of internal calls; Tencent's REST backend uses 3 s.
inline constexpr std::chrono::milliseconds kDefaultDeadline{3000};

// A mutual-TLS channel (rpc/tls.h) to the Parley service `server` ("auth",
// "message", ...), whose certificate must name it; with keepalive so a dead
// peer is noticed.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, const std::string& server);

// A context with a deadline and, when given, the caller metadata.
std::unique_ptr<grpc::ClientContext> NewContext(
    const Caller* caller = nullptr, std::chrono::milliseconds deadline = kDefaultDeadline);

// One call with gRPC's callback API: keeps the context, request and response
// alive until the completion has run (capture the shared_ptr in it).
//
//   auto call = rpc::NewAsyncCall<v1::SyncRequest, v1::SyncResponse>(&caller, deadline);
//   call->request.set_after_seq(n);
//   stub->async()->Sync(call->context.get(), &call->request, &call->response,
//                       [call](grpc::Status status) { ... call->response ... });
template <class Req, class Resp>
struct AsyncCall {
  std::unique_ptr<grpc::ClientContext> context;
  Req request;
  Resp response;
};

template <class Req, class Resp>
std::shared_ptr<AsyncCall<Req, Resp>> NewAsyncCall(const Caller* caller,
                                                   std::chrono::milliseconds deadline) {
  auto call = std::make_shared<AsyncCall<Req, Resp>>();
  call->context = NewContext(caller, deadline);
  return call;
}

}  // namespace parley::rpc
