// Adapters from generated gRPC service methods to logic functions that return
// absl::StatusOr, so every service maps errors through errors::ToGrpc().
//
//   grpc::Status AccountImport(grpc::ServerContext* c, const Req* q, Resp* r) override {
//     return rpc::ServeAsCaller(c, q, r, [&](auto& caller, auto& req) {
//       return logic_.AccountImport(caller, req);
//     });
//   }
#pragma once

#include <utility>

#include "parley/errors/errors.h"
#include "parley/rpc/caller.h"

namespace parley::rpc {

// For RPCs made on behalf of an app's operator (caller metadata required).
template <class Req, class Resp, class Fn>
grpc::Status ServeAsCaller(grpc::ServerContext* context, const Req* request, Resp* response,
                           Fn&& fn) {
  auto caller = GetCaller(*context);
  if (!caller.ok()) return errors::ToGrpc(caller.status());
  auto result = fn(*caller, *request);
  if (!result.ok()) return errors::ToGrpc(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

// For RPCs that need no caller (operator and internal APIs).
template <class Req, class Resp, class Fn>
grpc::Status Serve(const Req* request, Resp* response, Fn&& fn) {
  auto result = fn(*request);
  if (!result.ok()) return errors::ToGrpc(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace parley::rpc

// One gRPC method of a service class that has a `logic_` pointer whose
// method of the same name takes (const rpc::Caller&, const Req&): use it
// inside the class with an X-macro list of (Method, Req, Resp).
#define PARLEY_RPC_AS_CALLER(Method, Req, Resp)                                               \
  grpc::Status Method(grpc::ServerContext* context, const ::parley::v1::Req* request,         \
                      ::parley::v1::Resp* response) override {                               \
    return ::parley::rpc::ServeAsCaller(context, request, response,                           \
                                        [&](const auto& c, const auto& r) {                   \
                                          return logic_->Method(c, r);                        \
                                        });                                                   \
  }
