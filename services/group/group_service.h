// The group service: groups, members and roles (compat reference §3.7, §5).
//
// GroupLogic holds the behaviour and is what tests construct; GroupGrpcService
// adapts it to gRPC. A request that changes a group runs in one PostgreSQL
// transaction that first locks the group's row, so member caps, roles and
// ownership hold under concurrent calls on any number of replicas. The rules
// (who may do what, limits, IDs) are pure functions in group_rules.h; the SQL is in
// group_store.h. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <tuple>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "group_store.h"
#include "parley/batching/batcher.h"
#include "room_store.h"
#include "topic_store.h"
#include "parley/callbacks/callbacks.h"
#include "parley/liveroom/liveroom.h"
#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/pg/pool.h"
#include "parley/rpc/caller.h"
#include "parley/rpc/serve.h"
#include "parley/v1/group.grpc.pb.h"
#include "parley/v1/group_message.pb.h"
#include "parley/v1/message.pb.h"
#include "group_rules.h"

namespace parley::group {

class GroupLogic {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  // Which of the given accounts exist (accounts::ExistenceChecker in production).
  using ExistingAccounts = std::function<absl::StatusOr<std::set<std::string>>(
      uint64_t sdkappid, const std::vector<std::string>& users)>;
  using Random = std::function<uint64_t()>;

  // Stores a tip in the group's message seq and delivers it (the message
  // service's PostGroupTip in production); returns the tip's seq.
  using TipPoster = std::function<absl::StatusOr<uint64_t>(uint64_t sdkappid,
                                                           const v1::PostGroupTipRequest& tip)>;

  // Tells one user's online devices of something not kept in a group's seq
  // (an online-only event; the push service's Deliver in production).
  using UserNotifier = std::function<void(uint64_t sdkappid, const std::string& user,
                                          const v1::TimelineEvent& event)>;

  GroupLogic(pg::Pool* pool, ExistingAccounts existing, Clock now, Random random);
  // Finishes the gathered room reads while everything they use still lives.
  ~GroupLogic() { standings_.reset(); }
  // Group tips (member joined, kicked, ...); none when unset.
  void SetTipPoster(TipPoster poster) { post_tip_ = std::move(poster); }
  // Join-request notices to owners, admins and applicants; none when unset.
  void SetNotifier(UserNotifier notifier) { notify_ = std::move(notifier); }

#define PARLEY_GROUP_METHOD(Method, Req, Resp) \
  absl::StatusOr<v1::Resp> Method(const rpc::Caller& caller, const v1::Req& request);
#define PARLEY_GROUP_METHODS(X)                                                        \
  X(CreateGroup, CreateGroupRequest, CreateGroupResponse)                              \
  X(ImportGroup, CreateGroupRequest, CreateGroupResponse)                              \
  X(ImportGroupMember, ImportGroupMemberRequest, AddGroupMemberResponse)               \
  X(GetGroupInfo, GetGroupInfoRequest, GetGroupInfoResponse)                           \
  X(ModifyGroupBaseInfo, ModifyGroupBaseInfoRequest, GroupEmpty)                       \
  X(DestroyGroup, GroupIdRequest, GroupEmpty)                                          \
  X(ChangeGroupOwner, ChangeGroupOwnerRequest, GroupEmpty)                             \
  X(GetAppidGroupList, GetAppidGroupListRequest, GetAppidGroupListResponse)            \
  X(GetJoinedGroupList, GetJoinedGroupListRequest, GetJoinedGroupListResponse)         \
  X(GetRoleInGroup, GetRoleInGroupRequest, GetRoleInGroupResponse)                     \
  X(AddGroupMember, AddGroupMemberRequest, AddGroupMemberResponse)                     \
  X(DeleteGroupMember, DeleteGroupMemberRequest, GroupEmpty)                           \
  X(QuitGroup, GroupIdRequest, GroupEmpty)                                             \
  X(GetGroupMemberInfo, GetGroupMemberInfoRequest, GetGroupMemberInfoResponse)         \
  X(GetSpecifiedGroupMemberInfo, GetSpecifiedGroupMemberInfoRequest,                   \
    GetSpecifiedGroupMemberInfoResponse)                                               \
  X(ModifyGroupMemberInfo, ModifyGroupMemberInfoRequest, GroupEmpty)                   \
  X(ForbidSendMsg, ForbidSendMsgRequest, GroupEmpty)                                   \
  X(GetGroupMutedAccount, GetGroupMutedAccountRequest, GetGroupMutedAccountResponse)   \
  X(GetGroupShuttedUin, GroupIdRequest, GetGroupShuttedUinResponse)                    \
  X(GetGroupAttr, GroupIdRequest, GetGroupAttrResponse)                                \
  X(ModifyGroupAttr, GroupAttrRequest, GroupEmpty)                                     \
  X(SetGroupAttr, GroupAttrRequest, GroupEmpty)                                        \
  X(DeleteGroupAttr, GroupAttrRequest, GroupEmpty)                                     \
  X(ClearGroupAttr, GroupIdRequest, GroupEmpty)                                        \
  X(GetGroupCounter, GroupCounterKeysRequest, GroupCounterResponse)                    \
  X(UpdateGroupCounter, UpdateGroupCounterRequest, GroupCounterResponse)               \
  X(DeleteGroupCounter, GroupCounterKeysRequest, GroupEmpty)                           \
  X(ApplyJoinGroup, ApplyJoinGroupRequest, ApplyJoinGroupResponse)                     \
  X(GetJoinRequests, GroupIdRequest, GetJoinRequestsResponse)                          \
  X(HandleJoinRequest, HandleJoinRequestRequest, GroupEmpty)                           \
  X(GetMemberContext, MemberContextRequest, MemberContext)                             \
  X(NoteGroupMessages, NoteGroupMessagesRequest, GroupEmpty)                           \
  X(EnterRoom, RoomMemberRequest, EnterRoomResponse)                                   \
  X(LeaveRoom, RoomMemberRequest, GroupEmpty)                                          \
  X(GetOnlineMemberNum, GroupIdRequest, GetOnlineMemberNumResponse)                    \
  X(BanGroupMember, BanGroupMemberRequest, GroupEmpty)                                 \
  X(UnbanGroupMember, UnbanGroupMemberRequest, GroupEmpty)                             \
  X(GetGroupBanMember, GetGroupBanMemberRequest, GetGroupBanMemberResponse)            \
  X(GetRoomMembers, GetRoomMembersRequest, GetRoomMembersResponse)                     \
  X(ModifyRoomUserInfo, ModifyRoomUserInfoRequest, GroupEmpty)                         \
  X(ModifyRoomAdmin, ModifyRoomAdminRequest, GroupEmpty)                               \
  X(GetRoomAdminList, GroupIdRequest, GetRoomAdminListResponse)                        \
  X(CheckRoomMembers, CheckRoomMembersRequest, CheckRoomMembersResponse)               \
  X(ListRooms, ListRoomsRequest, ListRoomsResponse)                                   \
  X(ListPushTargets, ListPushTargetsRequest, ListPushTargetsResponse)                 \
  X(CreateTopic, CreateTopicRequest, CreateTopicResponse)                              \
  X(ImportTopic, CreateTopicRequest, CreateTopicResponse)                              \
  X(GetTopic, GetTopicRequest, GetTopicResponse)                                       \
  X(ModifyTopic, ModifyTopicRequest, GroupEmpty)                                       \
  X(DestroyTopic, DestroyTopicRequest, DestroyTopicResponse)                           \
  X(CreatePermissionGroup, CreatePermissionGroupRequest, CreatePermissionGroupResponse) \
  X(DestroyPermissionGroup, DestroyPermissionGroupRequest, PermissionGroupResults)     \
  X(ModifyPermissionGroup, ModifyPermissionGroupRequest, GroupEmpty)                   \
  X(GetPermissionGroup, GetPermissionGroupRequest, GetPermissionGroupResponse)         \
  X(AddTopicPermissionGroup, TopicPermissionRequest, TopicPermissionResults)           \
  X(SetTopicPermissionGroup, TopicPermissionRequest, TopicPermissionResults)           \
  X(DeleteTopicPermissionGroup, DeleteTopicPermissionRequest, TopicPermissionResults)  \
  X(GetTopicPermissionGroup, DeleteTopicPermissionRequest, GetTopicPermissionResponse) \
  X(AddPermissionGroupMember, PermissionGroupMembersRequest, AddGroupMemberResponse)   \
  X(DeletePermissionGroupMember, PermissionGroupMembersRequest, GroupEmpty)            \
  X(GetPermissionGroupMemberList, GetPermissionGroupMemberListRequest,                 \
    GetPermissionGroupMemberListResponse)
  PARLEY_GROUP_METHODS(PARLEY_GROUP_METHOD)
#undef PARLEY_GROUP_METHOD

  // Operators: the custom-field keys an app declares (AppDefinedData,
  // AppMemberDefinedData), replaced as a whole by an update.
  absl::StatusOr<v1::GroupSettings> GetGroupSettings(uint64_t sdkappid);
  absl::StatusOr<v1::GroupSettings> UpdateGroupSettings(const v1::GroupSettings& update);

  // Third-party callbacks (Group.*); none when unset.
  void SetCallbacks(callbacks::CallbackClient* callbacks) { callbacks_ = callbacks; }
  // AVChatRoom presence (Redis); without it rooms have no online members.
  void SetRooms(liveroom::Rooms* rooms) { rooms_ = rooms; }
  // Sends the room join, exit and member-state callbacks gathered since the
  // last flush, one per room, kind and up to kRoomEventBatch members
  // (Tencent batches Group.CallbackOnMemberStateChange too). Production
  // calls it every second.
  void FlushRoomEvents();
  static constexpr size_t kRoomEventBatch = 500;

 private:
  // create_group, and import_group (no callbacks, CreateTime kept, active).
  absl::StatusOr<v1::CreateGroupResponse> Create(const rpc::Caller& caller,
                                                 const v1::CreateGroupRequest& request,
                                                 bool import);
  // After-callbacks a request owes once its transaction commits, and the
  // group tips it posts (before the callbacks, and before it answers: the
  // caller's next message then finds the change routed).
  struct Events : std::vector<std::pair<std::string, nlohmann::json>> {
    std::vector<v1::PostGroupTipRequest> tips;
    std::vector<std::pair<std::string, v1::TimelineEvent>> notices;  // user, event
    void clear() {
      std::vector<std::pair<std::string, nlohmann::json>>::clear();
      tips.clear();
      notices.clear();
    }
    // A KIND_GROUP_REQUEST notice to each of `users`.
    void Notice(const std::vector<std::string>& users, const v1::GroupRequestNotice& notice,
                int64_t now);
    void Tip(const GroupRow& group, const std::string& type, const std::string& operator_account,
             std::vector<std::string> members, std::string detail = "", bool silent = false);
  };
  // A before-callback: OK when the app allows (or has it off); 10016 when
  // its backend refuses. `answer` gets the backend's JSON answer, if any.
  absl::Status Before(const rpc::Caller& caller, const char* command,
                      const nlohmann::json& payload, nlohmann::json* answer);
  // Queues `events` (those the app has on) for the callback service.
  void Emit(const rpc::Caller& caller, const Events& events);
  // Transact(), then Emit() the events `fn` recorded if it committed.
  template <class T>
  absl::StatusOr<T> Change(const rpc::Caller& caller,
                           const std::function<absl::StatusOr<T>(pqxx::work&, Events&)>& fn);
  // Runs `fn` in one transaction, committed if it returns OK.
  template <class T>
  absl::StatusOr<T> Transact(const std::function<absl::StatusOr<T>(pqxx::work&)>& fn);
  // The group's owner and admins (who answer requests to join).
  std::vector<std::string> Managers(pqxx::work& tx, uint64_t app, const std::string& id);
  // Loads (and with `lock`, locks) a group the caller may see: 10015 for a
  // malformed ID, 10010 for none; the caller's standing in it goes to `actor`
  // (an end user who is not a member gets 10007).
  absl::StatusOr<GroupRow> Load(pqxx::work& tx, const rpc::Caller& caller, const std::string& id,
                                bool lock, Actor* actor);
  // One attribute command: the op applied under the group's lock.
  absl::StatusOr<v1::GroupEmpty> ChangeAttrs(const rpc::Caller& caller, const std::string& group,
                                             AttrOp op, const v1::GroupAttrRequest* request);
  // Adds `user` to the locked `group` because they asked (JoinType Apply):
  // 10014 when full; the tip and after-callbacks go into `events`.
  absl::Status JoinByApplyLocked(pqxx::work& tx, const rpc::Caller& caller, const GroupRow& group,
                                 const std::string& user, Events& events);
  // Active mutes of a group's members (in a topic, with a topic ID).
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> ActiveMutes(
      const rpc::Caller& caller, const std::string& group, const std::string& topic);
  // Which of `users` are imported accounts; bad IDs are simply absent.
  absl::StatusOr<std::set<std::string>> Existing(uint64_t app,
                                                 const std::vector<std::string>& users);

  // A room's member changes waiting for FlushRoomEvents: (app, room,
  // command, detail) -> members. `detail` is the EventType or ExitType.
  void QueueRoomEvent(uint64_t app, const std::string& room, const char* command,
                      const std::string& detail, const std::string& user);
  // An AVChatRoom the caller may manage (owner, room admin or app admin).
  absl::StatusOr<GroupRow> LoadRoom(pqxx::work& tx, const rpc::Caller& caller,
                                    const std::string& id, bool lock, Actor* actor = nullptr);

  // Community topics (topic_service.cc). A Community the caller may see
  // that has topics (10007 otherwise), as Load() loads groups.
  absl::StatusOr<GroupRow> LoadCommunity(pqxx::work& tx, const rpc::Caller& caller,
                                         const std::string& id, bool lock, Actor* actor);
  // A topic of `group_id`: 110013 for a malformed ID or none.
  absl::StatusOr<TopicRow> LoadTopic(pqxx::work& tx, const rpc::Caller& caller,
                                     const std::string& group_id, const std::string& topic_id,
                                     bool lock);
  // Who a topic command acts as: the caller, or for the app the member it
  // names in From_Account (10007 when not a member).
  absl::StatusOr<std::string> TopicOperator(pqxx::work& tx, const rpc::Caller& caller,
                                            const std::string& group_id, const std::string& from,
                                            Actor* actor);
  // With permission groups on, the actor's bits in `topic`.
  void AddTopicBits(pqxx::work& tx, const rpc::Caller& caller, const GroupRow& group,
                    const TopicRow& topic, Actor* actor);
  // Community permission groups (permission_service.cc): a Community the
  // caller may manage permissions of by `bit` (10007 otherwise; 0: any
  // member may read), with `permission_group` in it when given (10004).
  absl::StatusOr<GroupRow> LoadForPermissions(pqxx::work& tx, const rpc::Caller& caller,
                                              const std::string& id, uint32_t bit,
                                              const std::string* permission_group = nullptr);
  // One change per topic of a permission group, each with its result and
  // a TopicPermissionChanged tip when it took.
  using TopicPermissionChange =
      std::function<absl::Status(pqxx::work& tx, const GroupRow& group, size_t index)>;
  absl::StatusOr<v1::TopicPermissionResults> ChangeTopicPermissions(
      const rpc::Caller& caller, const std::string& group_id, const std::string& pg,
      const std::vector<std::string>& topics, const TopicPermissionChange& change);
  // add_topic_permission_group (`add`) and set_topic_permission_group.
  absl::StatusOr<v1::TopicPermissionResults> PutTopicPermissions(
      const rpc::Caller& caller, const v1::TopicPermissionRequest& request, bool add);
  // create_topic, and import_topic (no tip, no callbacks, CreateTime kept).
  absl::StatusOr<v1::CreateTopicResponse> NewTopic(const rpc::Caller& caller,
                                                   const v1::CreateTopicRequest& request,
                                                   bool import);

  callbacks::CallbackClient* callbacks_ = nullptr;
  liveroom::Rooms* rooms_ = nullptr;
  // EnterRoom's reads, gathered (room_service.cc).
  using StandingResult = absl::StatusOr<std::optional<store::RoomStanding>>;
  std::unique_ptr<batching::Batcher<store::StandingKey, StandingResult>> standings_;
  std::mutex room_events_mu_;
  std::map<std::tuple<uint64_t, std::string, std::string, std::string>, std::vector<std::string>>
      room_events_;
  TipPoster post_tip_;
  UserNotifier notify_;
  pg::Pool* pool_;
  ExistingAccounts existing_;
  Clock now_;
  Random random_;
};

// Defined here so every file of the service's logic can use them.
template <class T>
inline absl::StatusOr<T> GroupLogic::Transact(const std::function<absl::StatusOr<T>(pqxx::work&)>& fn) {
  absl::StatusOr<T> result = absl::InternalError("not run");
  absl::Status st = pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    result = fn(tx);
    if (!result.ok()) return result.status();  // rolled back: bad input changes nothing
    tx.commit();
    return absl::OkStatus();
  });
  if (st.ok()) return result;
  if (errors::TencentCode(st, 0) != 0) return st;
  log::Error("group_store_failed", {{"error", std::string(st.message())}});
  return errors::Error(kInternal, "group storage failed; retry");
}

template <class T>
inline absl::StatusOr<T> GroupLogic::Change(
    const rpc::Caller& caller, const std::function<absl::StatusOr<T>(pqxx::work&, Events&)>& fn) {
  Events events;
  auto result = Transact<T>([&](pqxx::work& tx) {
    events.clear();  // a retried transaction starts over
    return fn(tx, events);
  });
  if (result.ok()) Emit(caller, events);
  return result;
}

class GroupGrpcService final : public v1::GroupService::Service {
 public:
  explicit GroupGrpcService(GroupLogic* logic) : logic_(logic) {}
  PARLEY_GROUP_METHODS(PARLEY_RPC_AS_CALLER)
  grpc::Status GetGroupSettings(grpc::ServerContext*, const v1::GroupSettingsRequest* request,
                                v1::GroupSettings* response) override {
    return rpc::Serve(request, response,
                      [&](const auto& r) { return logic_->GetGroupSettings(r.sdkappid()); });
  }
  grpc::Status UpdateGroupSettings(grpc::ServerContext*, const v1::GroupSettings* request,
                                   v1::GroupSettings* response) override {
    return rpc::Serve(request, response,
                      [&](const auto& r) { return logic_->UpdateGroupSettings(r); });
  }

 private:
  GroupLogic* logic_;
};

}  // namespace parley::group
