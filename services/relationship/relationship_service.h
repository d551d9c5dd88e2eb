// The relationship service: friends, friend requests, friend lists,
// blocklist, profiles and the facts behind one-to-one send permissions.
//
// RelationshipLogic holds the behaviour and is what tests construct;
// RelationshipGrpcService adapts it to gRPC. The decisions are pure
// functions in relationship_rules.h and the SQL is in relationship_store.h;
// the logic gathers facts from the store, asks the rules, and writes back.
// Each request runs in one PostgreSQL transaction that first locks the
// rel_users rows of everyone whose lists it may change (in user-ID order),
// so caps and both-way changes hold under concurrency. After the commit the
// Notifier invalidates send-permission caches and tells the users' online
// devices. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parley/accounts/accounts.h"
#include "parley/callbacks/callbacks.h"
#include "parley/delivery/deliverer.h"
#include "parley/pg/pool.h"
#include "parley/redis/pool.h"
#include "parley/rpc/caller.h"
#include "parley/rpc/serve.h"
#include "parley/v1/relationship.grpc.pb.h"

namespace parley::relationship {

// Where relationship changes are announced (see services/message/send_permission.h).
inline constexpr char kChangesChannel[] = "parley:relationship:changes";

class Notifier {
 public:
  virtual ~Notifier() = default;
  // The friend list or blocklist of `users` changed.
  virtual void RelationsChanged(uint64_t sdkappid, const std::set<std::string>& users) = 0;
  virtual void SettingsChanged(uint64_t sdkappid) = 0;
  // Tells `user`'s online devices (an online-only KIND_RELATIONSHIP event).
  virtual void Tell(uint64_t sdkappid, const std::string& user, const std::string& change,
                    const std::vector<std::string>& accounts) = 0;
};

// Publishes on Redis and pushes through the push service.
class LiveNotifier : public Notifier {
 public:
  LiveNotifier(redis::Pool* redis, delivery::Deliverer* deliverer, std::function<int64_t()> now)
      : redis_(redis), deliverer_(deliverer), now_(std::move(now)) {}
  void RelationsChanged(uint64_t sdkappid, const std::set<std::string>& users) override;
  void SettingsChanged(uint64_t sdkappid) override;
  void Tell(uint64_t sdkappid, const std::string& user, const std::string& change,
            const std::vector<std::string>& accounts) override;

 private:
  void Publish(std::vector<std::vector<std::string>> commands);
  redis::Pool* redis_;
  delivery::Deliverer* deliverer_;
  std::function<int64_t()> now_;
};

class RelationshipLogic {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds

  // Which of the given accounts exist (accounts::ExistenceChecker in production).
  using ExistingAccounts = std::function<absl::StatusOr<std::set<std::string>>(
      uint64_t sdkappid, const std::vector<std::string>& users)>;

  RelationshipLogic(pg::Pool* pool, ExistingAccounts existing, Notifier* notifier, Clock now);

#define PARLEY_RELATIONSHIP_METHOD(Method, Req, Resp) \
  absl::StatusOr<v1::Resp> Method(const rpc::Caller& caller, const v1::Req& request);
#define PARLEY_RELATIONSHIP_METHODS(X)                                    \
  X(FriendAdd, FriendAddRequest, FriendResults)                           \
  X(FriendImport, FriendImportRequest, FriendResults)                     \
  X(FriendUpdate, FriendUpdateRequest, FriendResults)                     \
  X(FriendDelete, FriendDeleteRequest, FriendResults)                     \
  X(FriendDeleteAll, FriendDeleteAllRequest, Empty)                       \
  X(FriendCheck, FriendCheckRequest, FriendCheckResponse)                 \
  X(FriendGet, FriendGetRequest, FriendGetResponse)                       \
  X(FriendGetList, FriendGetListRequest, FriendGetListResponse)           \
  X(PendencyGet, PendencyGetRequest, PendencyGetResponse)                 \
  X(PendencyResponse, PendencyResponseRequest, FriendResults)             \
  X(PendencyDelete, PendencyDeleteRequest, FriendResults)                 \
  X(PendencyReport, PendencyReportRequest, Empty)                         \
  X(BlackListAdd, BlackListChangeRequest, FriendResults)                  \
  X(BlackListDelete, BlackListChangeRequest, FriendResults)               \
  X(BlackListGet, BlackListGetRequest, BlackListGetResponse)              \
  X(BlackListCheck, BlackListCheckRequest, BlackListCheckResponse)        \
  X(GroupAdd, GroupAddRequest, GroupAddResponse)                          \
  X(GroupDelete, GroupDeleteRequest, GroupDeleteResponse)                 \
  X(GroupGet, GroupGetRequest, GroupGetResponse)                          \
  X(PortraitGet, PortraitGetRequest, PortraitGetResponse)                 \
  X(PortraitSet, PortraitSetRequest, Empty)                               \
  X(CheckSendPermission, CheckSendPermissionRequest, CheckSendPermissionResponse) \
  X(ForgetUsers, ForgetUsersRequest, Empty)
  PARLEY_RELATIONSHIP_METHODS(PARLEY_RELATIONSHIP_METHOD)
#undef PARLEY_RELATIONSHIP_METHOD

  // Told which accounts ForgetUsers removed, to drop them from caches.
  void SetOnForget(std::function<void(uint64_t, const std::vector<std::string>&)> on_forget) {
    on_forget_ = std::move(on_forget);
  }
  // Third-party callbacks (Sns.*, Profile.*); none when unset.
  void SetCallbacks(callbacks::CallbackClient* callbacks) { callbacks_ = callbacks; }

  absl::StatusOr<v1::RelationshipSettings> GetSettings(uint64_t sdkappid);
  absl::StatusOr<v1::RelationshipSettings> UpdateSettings(const v1::RelationshipSettings& update);

 private:
  struct Changes;
  // friend_check and black_list_check: the actor's relation to each account.
  struct RelationCheck {
    const char* both_type;
    const char* single_type;
    // Which of `others` the actor has (forward) / which have the actor (backward).
    std::set<std::string> (*forward)(pqxx::transaction_base&, uint64_t, const std::string&,
                                     const std::vector<std::string>&);
    std::set<std::string> (*backward)(pqxx::transaction_base&, uint64_t, const std::string&,
                                      const std::vector<std::string>&);
    std::string (*relation)(bool forward, bool backward, bool check_both);
  };
  absl::Status CheckRelations(const rpc::Caller& caller, const std::string& from,
                              const google::protobuf::RepeatedPtrField<std::string>& to_accounts,
                              const std::string& type, const RelationCheck& check,
                              google::protobuf::RepeatedPtrField<v1::RelationItem>* items,
                              google::protobuf::RepeatedPtrField<std::string>* fail_accounts);
  // The user a request acts for: the caller, or an admin's From_Account,
  // which must be a valid, imported account (`bad`, `not_imported` codes).
  absl::StatusOr<std::string> Actor(const rpc::Caller& caller, const std::string& from,
                                    int32_t bad, int32_t not_imported);
  // Runs `fn` in one transaction, then announces what it changed.
  absl::Status Transact(const rpc::Caller& caller,
                        const std::function<absl::Status(pqxx::work&, Changes&)>& fn);
  // A before-callback over a batch (Sns.CallbackPrev*): targets the app's
  // backend refuses get their code in `results` and are removed.
  absl::Status BeforeBatch(const rpc::Caller& caller, const std::string& command,
                           nlohmann::ordered_json payload, std::vector<std::string>* targets,
                           v1::FriendResults* results);
  // Validates a batch of target accounts: per-target errors go to `results`.
  absl::StatusOr<std::vector<std::string>> Targets(uint64_t sdkappid, const std::string& actor,
                                                   const std::vector<std::string>& requested,
                                                   size_t max, bool must_exist,
                                                   v1::FriendResults* results);

  callbacks::CallbackClient* callbacks_ = nullptr;
  std::function<void(uint64_t, const std::vector<std::string>&)> on_forget_;
  pg::Pool* pool_;
  ExistingAccounts existing_;
  Notifier* notifier_;
  Clock now_;
};

class RelationshipGrpcService final : public v1::RelationshipService::Service {
 public:
  explicit RelationshipGrpcService(RelationshipLogic* logic) : logic_(logic) {}
  PARLEY_RELATIONSHIP_METHODS(PARLEY_RPC_AS_CALLER)

  grpc::Status GetSettings(grpc::ServerContext*, const v1::GetRelationshipSettingsRequest* request,
                           v1::RelationshipSettings* response) override {
    return rpc::Serve(request, response, [&](const auto& r) { return logic_->GetSettings(r.sdkappid()); });
  }
  grpc::Status UpdateSettings(grpc::ServerContext*, const v1::RelationshipSettings* request,
                              v1::RelationshipSettings* response) override {
    return rpc::Serve(request, response, [&](const auto& r) { return logic_->UpdateSettings(r); });
  }

 private:
  RelationshipLogic* logic_;
};

}  // namespace parley::relationship
