// The push service: routes timeline events to the gateway instances that hold
// the recipients' sessions (Redis presence + per-gateway streams), and answers
// online-status queries. Stateless; thread-safe.
#pragma once

#include "parley/presence/presence.h"
#include "parley/rpc/caller.h"
#include "parley/v1/push.grpc.pb.h"

namespace parley::push {

// Where events for users with no online session go. Vendor channels (APNs,
// FCM, ...) implement this; the default only counts them.
class OfflinePusher {
 public:
  virtual ~OfflinePusher() = default;
  virtual void Push(uint64_t sdkappid, const std::string& user_id,
                    const v1::TimelineEvent& event) = 0;
};

// Counts what would be pushed offline (parley_push_offline_total); messages
// still reach the users on their next sync.
class CountingOfflinePusher : public OfflinePusher {
 public:
  void Push(uint64_t sdkappid, const std::string& user_id,
            const v1::TimelineEvent& event) override;
};

class PushLogic {
 public:
  PushLogic(presence::Presence* presence, OfflinePusher* offline)
      : presence_(presence), offline_(offline) {}

  absl::StatusOr<v1::DeliverResponse> Deliver(const rpc::Caller& caller,
                                              const v1::DeliverRequest& request);
  absl::StatusOr<v1::QueryOnlineStatusResponse> QueryOnlineStatus(
      const rpc::Caller& caller, const v1::QueryOnlineStatusRequest& request);
  absl::StatusOr<v1::DeliverGroupResponse> DeliverGroup(const rpc::Caller& caller,
                                                        const v1::DeliverGroupRequest& request);

 private:
  presence::Presence* presence_;
  OfflinePusher* offline_;
};

class PushGrpcService final : public v1::PushService::Service {
 public:
  explicit PushGrpcService(PushLogic* logic) : logic_(logic) {}
  grpc::Status Deliver(grpc::ServerContext* context, const v1::DeliverRequest* request,
                       v1::DeliverResponse* response) override;
  grpc::Status QueryOnlineStatus(grpc::ServerContext* context,
                                 const v1::QueryOnlineStatusRequest* request,
                                 v1::QueryOnlineStatusResponse* response) override;
  grpc::Status DeliverGroup(grpc::ServerContext* context, const v1::DeliverGroupRequest* request,
                            v1::DeliverGroupResponse* response) override;

 private:
  PushLogic* logic_;
};

}  // namespace parley::push
