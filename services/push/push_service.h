// The push service: routes timeline events to the gateway instances that hold
// the recipients' sessions (Redis presence + per-gateway streams), and answers
// online-status queries. Stateless; thread-safe.
#pragma once

#include "parley/presence/presence.h"
#include "parley/rpc/caller.h"
#include "parley/v1/push.grpc.pb.h"

namespace parley::push {

class PushLogic {
 public:
  explicit PushLogic(presence::Presence* presence) : presence_(presence) {}

  absl::StatusOr<v1::DeliverResponse> Deliver(const rpc::Caller& caller,
                                              const v1::DeliverRequest& request);
  absl::StatusOr<v1::QueryOnlineStatusResponse> QueryOnlineStatus(
      const rpc::Caller& caller, const v1::QueryOnlineStatusRequest& request);

 private:
  presence::Presence* presence_;
};

class PushGrpcService final : public v1::PushService::Service {
 public:
  explicit PushGrpcService(PushLogic* logic) : logic_(logic) {}
  grpc::Status Deliver(grpc::ServerContext* context, const v1::DeliverRequest* request,
                       v1::DeliverResponse* response) override;
  grpc::Status QueryOnlineStatus(grpc::ServerContext* context,
                                 const v1::QueryOnlineStatusRequest* request,
                                 v1::QueryOnlineStatusResponse* response) override;

 private:
  PushLogic* logic_;
};

}  // namespace parley::push
