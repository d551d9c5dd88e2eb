// Group messages in the message service (group_message.proto).
//
// GroupMessageLogic holds the behaviour and is what tests construct;
// GroupMessageGrpcService adapts it to gRPC. Membership, roles and mutes come
// from the group service (GetMemberContext) at each send; seqs, contents and
// read positions are here (group_msg_store.h); delivery is by gateway
// (push DeliverGroup). Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <tuple>

#include "group_context_cache.h"
#include "group_msg_rules.h"
#include "group_msg_store.h"
#include "no_speaking.h"
#include "parley/batching/batcher.h"
#include "parley/callbacks/callbacks.h"
#include "parley/delivery/deliverer.h"
#include "parley/liveroom/liveroom.h"
#include "parley/rpc/caller.h"
#include "parley/rpc/serve.h"
#include "parley/v1/group.grpc.pb.h"
#include "parley/v1/group_message.grpc.pb.h"

namespace parley::message {

class GroupMessageLogic {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  using Random = std::function<uint32_t()>;

  GroupMessageLogic(GroupMessageStore* store, delivery::Deliverer* deliverer,
                    std::shared_ptr<v1::GroupService::StubInterface> groups,
                    GroupContextCache* contexts, Clock now, Random random);
  // Announces a stored tip to every replica's context cache (Redis publish
  // on kGroupChangesChannel); none when unset.
  void SetAnnouncer(std::function<void(const std::string&)> announce) {
    announce_ = std::move(announce);
  }
  // Sends the group service what stored messages it should know (each
  // group's last message, senders' last send times) gathered since the last
  // call, one call per app; run it a few times a second.
  void FlushNotes();
  // Group.CallbackBeforeSendMsg, AfterSendMsg, AfterRecallMsg; none when unset.
  void SetCallbacks(callbacks::CallbackClient* callbacks) { callbacks_ = callbacks; }
  // Which of the given accounts exist: import_group_msg's senders must. When
  // unset every sender is taken as existing.
  using ExistingAccounts = std::function<absl::StatusOr<std::set<std::string>>(
      uint64_t sdkappid, const std::vector<std::string>& users)>;
  void SetAccountChecker(ExistingAccounts existing) { existing_ = std::move(existing); }
  // AVChatRoom presence, frequency control and last messages (Redis);
  // without it room sends are refused (10002).
  void SetRooms(liveroom::Rooms* rooms) { rooms_ = rooms; }
  // Global mutes (openconfigsvr/setnospeaking): a muted user's group sends
  // are refused (10017). None when unset.
  void SetNoSpeaking(NoSpeakingCache* cache) { no_speaking_ = cache; }

#define PARLEY_GROUP_MESSAGE_METHODS(X)                                      \
  X(SendGroup, SendGroupRequest, SendGroupResponse)                          \
  X(GetGroupHistory, GetGroupHistoryRequest, GetGroupHistoryResponse)        \
  X(GetGroupRange, GetGroupRangeRequest, GetGroupRangeResponse)              \
  X(GetGroupRanges, GetGroupRangesRequest, GetGroupRangesResponse)           \
  X(RecallGroup, RecallGroupRequest, RecallGroupResponse)                    \
  X(GetGroupStates, GetGroupStatesRequest, GetGroupStatesResponse)           \
  X(MarkGroupRead, MarkGroupReadRequest, MarkGroupReadResponse)              \
  X(PostGroupTip, PostGroupTipRequest, PostGroupTipResponse)                 \
  X(ModifyGroupMsg, ModifyGroupMsgRequest, GroupMessageEmpty)                \
  X(DeleteGroupMsgBySender, DeleteGroupMsgBySenderRequest, GroupMessageEmpty) \
  X(ClearGroupMsg, ClearGroupMsgRequest, GroupMessageEmpty)                  \
  X(ImportGroupMsg, ImportGroupMsgRequest, ImportGroupMsgResponse)           \
  X(SetUnreadMsgNum, SetUnreadMsgNumRequest, GroupMessageEmpty)              \
  X(SendGroupSystemNotification, SystemNotificationRequest, GroupMessageEmpty) \
  X(GroupMsgReceipt, GroupMsgReceiptRequest, GroupMessageEmpty)              \
  X(GetGroupMsgReceipt, GetGroupMsgReceiptRequest, GetGroupMsgReceiptResponse) \
  X(GetGroupMsgReceiptDetail, GetGroupMsgReceiptDetailRequest, GetGroupMsgReceiptDetailResponse) \
  X(SendBroadcastMsg, BroadcastMsgRequest, BroadcastMsgResponse)
#define PARLEY_GROUP_MESSAGE_METHOD(Method, Req, Resp) \
  absl::StatusOr<v1::Resp> Method(const rpc::Caller& caller, const v1::Req& request);
  PARLEY_GROUP_MESSAGE_METHODS(PARLEY_GROUP_MESSAGE_METHOD)
#undef PARLEY_GROUP_MESSAGE_METHOD

 private:
  // The group and `user`'s standing in it (group service): 10015 for a
  // malformed ID, 10010 when there is no such group.
  absl::StatusOr<v1::MemberContext> Context(uint64_t sdkappid, const std::string& group,
                                            const std::string& user);
  // The seq a request's GroupId and TopicId name: the group's own, or the
  // topic's (110013 when TopicId is not a topic of the group).
  static absl::StatusOr<std::string> Stream(const std::string& group, const std::string& topic);
  // GetGroupStates for the topics of a community the caller is in.
  absl::StatusOr<v1::GetGroupStatesResponse> TopicStates(const rpc::Caller& caller,
                                                         const std::string& community);
  // For reads: the caller's context, 10007 for a user who is not a member;
  // `first_seq` gets the oldest seq they may read (1 for admins).
  absl::StatusOr<v1::MemberContext> Reader(const rpc::Caller& caller, const std::string& group,
                                           uint64_t* first_seq);
  // Group.CallbackBeforeSendMsg: may refuse, drop (*dropped) or rewrite.
  absl::Status BeforeSend(const rpc::Caller& caller, const v1::MemberContext& context,
                          v1::SendGroupRequest* request, bool* dropped);
  void AfterSend(const rpc::Caller& caller, const v1::MemberContext& context,
                 const v1::SendGroupRequest& request, uint64_t seq, int64_t time);
  // Group.CallbackSendMsgException: a send that passed every check was not stored.
  void SendFailed(const rpc::Caller& caller, const v1::MemberContext& context,
                  const v1::SendGroupRequest& request, const absl::Status& status);
  // Delivers to the group's members (a topic's event: the community's).
  void Deliver(uint64_t sdkappid, v1::GroupEvent event);
  // Stores a tip (or system notification) and delivers it at once; returns its seq.
  absl::StatusOr<uint64_t> StoreTip(uint64_t sdkappid, const std::string& group, int32_t type,
                                    const v1::GroupTip& tip,
                                    const std::vector<std::string>& to_accounts);
  // An AVChatRoom send (room_msg_service.cc): frequency control, then
  // online delivery to the sessions in the room; nothing is stored.
  absl::StatusOr<v1::SendGroupResponse> SendRoom(const rpc::Caller& caller,
                                                 const v1::MemberContext& context,
                                                 v1::SendGroupRequest request, int64_t now);
  // An AVChatRoom tip or notification: delivered online, never stored (seq 0).
  void DeliverRoomTip(uint64_t sdkappid, const std::string& group, const v1::GroupTip& tip,
                      int64_t now);
  // A send's message as a GroupEvent (seq 0 until stored).
  static v1::GroupEvent MessageEvent(const v1::SendGroupRequest& request, int64_t now);
  // For the app's commands: 10007 unless the caller is an app admin, then
  // the group's context (10010 for none).
  absl::StatusOr<v1::MemberContext> AdminOnly(const rpc::Caller& caller, const std::string& group);

  GroupMessageStore* store_;
  // Group commit of sends: one transaction for the messages of many groups,
  // on kAppendWriters writers, each group always on the same one (by hash),
  // so a group's messages keep their order and writers never wait on each
  // other's locks.
  static constexpr size_t kMaxAppendsPerBatch = 256;
  static constexpr size_t kAppendWriters = 2;
  using AppendBatcher = batching::Batcher<GroupAppend, absl::StatusOr<GroupAppendResult>>;
  std::vector<std::unique_ptr<AppendBatcher>> appends_;
  delivery::Deliverer* deliverer_;
  std::shared_ptr<v1::GroupService::StubInterface> groups_;
  GroupContextCache* contexts_;
  std::function<void(const std::string&)> announce_;
  ExistingAccounts existing_;
  callbacks::CallbackClient* callbacks_ = nullptr;
  liveroom::Rooms* rooms_ = nullptr;
  NoSpeakingCache* no_speaking_ = nullptr;
  // Stored messages the group service has not been told of, per (app,
  // group, sender): the latest. Bounded by the groups and senders active
  // between two flushes.
  std::mutex notes_mu_;
  std::map<std::tuple<uint64_t, std::string, std::string>, v1::GroupMessageNote> notes_;
  Clock now_;
  Random random_;
};

class GroupMessageGrpcService final : public v1::GroupMessageService::Service {
 public:
  explicit GroupMessageGrpcService(GroupMessageLogic* logic) : logic_(logic) {}
  PARLEY_GROUP_MESSAGE_METHODS(PARLEY_RPC_AS_CALLER)

 private:
  GroupMessageLogic* logic_;
};

}  // namespace parley::message
