// The push service: routes timeline events to the gateway instances that hold
// the recipients' sessions (Redis presence + per-gateway streams), and answers
// online-status queries. Stateless; thread-safe.
#pragma once

#include "all_member_store.h"
#include "credential_store.h"
#include "parley/rpc/serve.h"
#include "receive_opt_store.h"
#include "parley/presence/devices.h"
#include "parley/presence/presence.h"
#include "parley/redis/pool.h"
#include "parley/rpc/caller.h"
#include "parley/v1/push.grpc.pb.h"

namespace parley::push {

// Codes both halves of the push service answer with (Tencent's 900xx).
inline constexpr int32_t kBadField = 90001;
inline constexpr int32_t kNeedsAdmin = 90009;
inline constexpr int32_t kInternalError = 90994;
// OK for an app admin's call, else kNeedsAdmin.
absl::Status RequireAdmin(const rpc::Caller& caller);


// Where offline push jobs go: one per recipient with a device that is not
// online (push_queue.h takes them from there).
class OfflinePusher {
 public:
  virtual ~OfflinePusher() = default;
  virtual absl::Status Push(std::vector<v1::PushJob> jobs) = 0;
};

// Appends the jobs to the offline push queue (parley:push:queue).
class QueueingOfflinePusher : public OfflinePusher {
 public:
  QueueingOfflinePusher(redis::Pool* redis, std::string stream)
      : redis_(redis), stream_(std::move(stream)) {}
  absl::Status Push(std::vector<v1::PushJob> jobs) override;

 private:
  redis::Pool* redis_;
  std::string stream_;
};

class PushLogic {
 public:
  // `credentials` may be null: the credential RPCs then answer 90994.
  PushLogic(presence::Presence* presence, OfflinePusher* offline,
            CredentialStore* credentials = nullptr, ReceiveOptStore* receive_opts = nullptr)
      : presence_(presence),
        devices_(presence->pool()),
        offline_(offline),
        credentials_(credentials),
        receive_opts_(receive_opts) {}

  absl::StatusOr<v1::DeliverResponse> Deliver(const rpc::Caller& caller,
                                              const v1::DeliverRequest& request);
  absl::StatusOr<v1::QueryOnlineStatusResponse> QueryOnlineStatus(
      const rpc::Caller& caller, const v1::QueryOnlineStatusRequest& request);
  absl::StatusOr<v1::DeliverGroupResponse> DeliverGroup(const rpc::Caller& caller,
                                                        const v1::DeliverGroupRequest& request);
  absl::StatusOr<v1::SetCredentialResponse> SetCredential(const rpc::Caller& caller,
                                                          const v1::PushCredential& request);
  absl::StatusOr<v1::GetCredentialsResponse> GetCredentials(
      const rpc::Caller& caller, const v1::GetCredentialsRequest& request);
  absl::StatusOr<v1::RemoveCredentialResponse> RemoveCredential(
      const rpc::Caller& caller, const v1::RemoveCredentialRequest& request);
  absl::StatusOr<v1::SetC2CReceiveOptResponse> SetC2CReceiveOpt(
      const rpc::Caller& caller, const v1::SetC2CReceiveOptRequest& request);
  absl::StatusOr<v1::GetC2CReceiveOptResponse> GetC2CReceiveOpt(
      const rpc::Caller& caller, const v1::GetC2CReceiveOptRequest& request);

  // all_member_push/* (all_member_service.cc).
  void SetAllMember(AllMemberStore* store, int64_t daily_limit) {
    all_member_ = store;
    all_member_daily_limit_ = daily_limit;
  }
  absl::StatusOr<v1::ImPushResponse> ImPush(const rpc::Caller& caller,
                                            const v1::ImPushRequest& request);
  absl::StatusOr<v1::AllMemberEmpty> SetAttrName(const rpc::Caller& caller,
                                                 const v1::AttrNames& request);
  absl::StatusOr<v1::AttrNames> GetAttrName(const rpc::Caller& caller,
                                            const v1::AllMemberEmpty& request);
  absl::StatusOr<v1::GetAttrResponse> GetAttr(const rpc::Caller& caller,
                                              const v1::AccountsRequest& request);
  absl::StatusOr<v1::AllMemberEmpty> SetAttr(const rpc::Caller& caller,
                                             const v1::SetAttrRequest& request);
  absl::StatusOr<v1::AllMemberEmpty> RemoveAttr(const rpc::Caller& caller,
                                                const v1::RemoveAttrRequest& request);
  absl::StatusOr<v1::GetTagResponse> GetTag(const rpc::Caller& caller,
                                            const v1::AccountsRequest& request);
  absl::StatusOr<v1::AllMemberEmpty> AddTag(const rpc::Caller& caller,
                                            const v1::UserTagsRequest& request);
  absl::StatusOr<v1::AllMemberEmpty> RemoveTag(const rpc::Caller& caller,
                                               const v1::UserTagsRequest& request);
  absl::StatusOr<v1::AllMemberEmpty> RemoveAllTags(const rpc::Caller& caller,
                                                   const v1::AccountsRequest& request);
  absl::StatusOr<v1::PendingBroadcastsResponse> GetPendingBroadcasts(
      const rpc::Caller& caller, const v1::PendingBroadcastsRequest& request);

 private:
  // Jobs for the stored messages of these deliveries whose recipient has a
  // device that is not online.
  absl::Status QueueOfflinePushes(uint64_t sdkappid, const v1::DeliverRequest& request,
                                  std::map<std::string, std::vector<presence::Session>>& sessions);

  presence::Presence* presence_;
  presence::Devices devices_;
  OfflinePusher* offline_;
  CredentialStore* credentials_;
  ReceiveOptStore* receive_opts_;
  AllMemberStore* all_member_ = nullptr;
  int64_t all_member_daily_limit_ = 100;
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
  grpc::Status SetCredential(grpc::ServerContext* context, const v1::PushCredential* request,
                             v1::SetCredentialResponse* response) override;
  grpc::Status GetCredentials(grpc::ServerContext* context,
                              const v1::GetCredentialsRequest* request,
                              v1::GetCredentialsResponse* response) override;
  grpc::Status RemoveCredential(grpc::ServerContext* context,
                                const v1::RemoveCredentialRequest* request,
                                v1::RemoveCredentialResponse* response) override;
  grpc::Status SetC2CReceiveOpt(grpc::ServerContext* context,
                                const v1::SetC2CReceiveOptRequest* request,
                                v1::SetC2CReceiveOptResponse* response) override;
  grpc::Status GetC2CReceiveOpt(grpc::ServerContext* context,
                                const v1::GetC2CReceiveOptRequest* request,
                                v1::GetC2CReceiveOptResponse* response) override;

#define PARLEY_PUSH_RPC(Method, Request, Response)                                           \
  grpc::Status Method(grpc::ServerContext* context, const v1::Request* request,              \
                      v1::Response* response) override {                                    \
    return rpc::ServeAsCaller(context, request, response,                                    \
                              [&](const auto& c, const auto& r) { return logic_->Method(c, r); }); \
  }
  PARLEY_PUSH_RPC(ImPush, ImPushRequest, ImPushResponse)
  PARLEY_PUSH_RPC(SetAttrName, AttrNames, AllMemberEmpty)
  PARLEY_PUSH_RPC(GetAttrName, AllMemberEmpty, AttrNames)
  PARLEY_PUSH_RPC(GetAttr, AccountsRequest, GetAttrResponse)
  PARLEY_PUSH_RPC(SetAttr, SetAttrRequest, AllMemberEmpty)
  PARLEY_PUSH_RPC(RemoveAttr, RemoveAttrRequest, AllMemberEmpty)
  PARLEY_PUSH_RPC(GetTag, AccountsRequest, GetTagResponse)
  PARLEY_PUSH_RPC(AddTag, UserTagsRequest, AllMemberEmpty)
  PARLEY_PUSH_RPC(RemoveTag, UserTagsRequest, AllMemberEmpty)
  PARLEY_PUSH_RPC(RemoveAllTags, AccountsRequest, AllMemberEmpty)
  PARLEY_PUSH_RPC(GetPendingBroadcasts, PendingBroadcastsRequest, PendingBroadcastsResponse)
#undef PARLEY_PUSH_RPC

 private:
  PushLogic* logic_;
};

}  // namespace parley::push
