// The message service: C2C sends (REST and client), timelines and sync.
//
// MessageLogic holds the behaviour and is what tests construct;
// MessageGrpcService adapts it to gRPC. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "batch_writer.h"
#include "parley/delivery/deliverer.h"
#include "group_msg_store.h"
#include "message_store.h"
#include "send_permission.h"
#include "parley/accounts/accounts.h"
#include "parley/callbacks/callbacks.h"
#include "parley/rpc/caller.h"
#include "parley/rpc/serve.h"
#include "parley/v1/auth.grpc.pb.h"
#include "parley/v1/message.grpc.pb.h"

namespace parley::message {

class MessageLogic {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds

  MessageLogic(MessageStore* store, BatchWriter* writer, delivery::Deliverer* deliverer,
               std::shared_ptr<v1::AuthService::StubInterface> auth,
               SendPermission* permissions, Clock now);
  // Deletes the outbox rows of events the callback client queued last.
  ~MessageLogic();
  // Group conversations (Type 2) in recentcontact; none when unset.
  void SetGroupStore(GroupMessageStore* groups) { groups_ = groups; }
  // Third-party callbacks (C2C.*, Bot.OnC2CMessage); none when unset.
  void SetCallbacks(callbacks::CallbackClient* callbacks) { callbacks_ = callbacks; }
  // Global mutes: read on every client send (20012 while one holds);
  // changes are announced to every replica's cache. None when unset.
  void SetNoSpeaking(NoSpeakingCache* cache, std::function<void(const std::string&)> announce) {
    no_speaking_ = cache;
    announce_no_speaking_ = std::move(announce);
  }

  // After-send callbacks are recorded in the outbox with the message and
  // deleted once queued. This queues again, at most `limit` at a time, those
  // whose process died (or could not reach Redis) before that: outbox rows
  // older than kOwedCallbackLease. Returns how many; run it periodically.
  static constexpr std::chrono::seconds kOwedCallbackLease{30};
  size_t RequeueOwedCallbacks(size_t limit);
  // Hands every after-send still being prepared to the callback client and
  // stops taking more (the outbox keeps later ones). Call before the
  // callback client is destroyed.
  void StopAfterSends();
  // Deletes the outbox rows of events queued since the last call, in one
  // statement (not one per message); run it a few times a second.
  void DeleteSettledCallbacks();

  absl::StatusOr<v1::SendC2CResponse> SendC2C(const rpc::Caller& caller,
                                              const v1::SendC2CRequest& request);
  absl::StatusOr<v1::BatchSendC2CResponse> BatchSendC2C(const rpc::Caller& caller,
                                                        const v1::BatchSendC2CRequest& request);
  // Many client sends from a gateway, stored together; one outcome each.
  absl::StatusOr<v1::SendFromClientsResponse> SendFromClients(
      const rpc::Caller& caller, const v1::SendFromClientsRequest& request);
  absl::StatusOr<v1::SyncResponse> Sync(const rpc::Caller& caller, const v1::SyncRequest& request);
  // Which of `users` exist (the service's cached account check).
  absl::StatusOr<std::set<std::string>> ExistingAccounts(uint64_t sdkappid,
                                                         const std::vector<std::string>& users) {
    return existence_.Existing(sdkappid, users);
  }
  absl::StatusOr<v1::GetTimelineHeadsResponse> GetTimelineHeads(
      const rpc::Caller& caller, const v1::GetTimelineHeadsRequest& request);
  absl::StatusOr<v1::ImportC2CResponse> ImportC2C(const rpc::Caller& caller,
                                                  const v1::ImportC2CRequest& request);
  absl::StatusOr<v1::GetRoamMessagesResponse> GetRoamMessages(
      const rpc::Caller& caller, const v1::GetRoamMessagesRequest& request);
  absl::StatusOr<v1::RecallResponse> Recall(const rpc::Caller& caller,
                                            const v1::RecallRequest& request);
  absl::StatusOr<v1::ModifyResponse> Modify(const rpc::Caller& caller,
                                            const v1::ModifyRequest& request);
  absl::StatusOr<v1::DeleteForOwnerResponse> DeleteForOwner(
      const rpc::Caller& caller, const v1::DeleteForOwnerRequest& request);
  absl::StatusOr<v1::MarkReadResponse> MarkRead(const rpc::Caller& caller,
                                                const v1::MarkReadRequest& request);
  absl::StatusOr<v1::GetUnreadResponse> GetUnread(const rpc::Caller& caller,
                                                  const v1::GetUnreadRequest& request);
  absl::StatusOr<v1::GetBadgesResponse> GetBadges(const rpc::Caller& caller,
                                                  const v1::GetBadgesRequest& request);
  absl::StatusOr<v1::GetConversationsResponse> GetConversations(
      const rpc::Caller& caller, const v1::GetConversationsRequest& request);
  absl::StatusOr<v1::DeleteConversationResponse> DeleteConversation(
      const rpc::Caller& caller, const v1::DeleteConversationRequest& request);
  absl::StatusOr<v1::PinConversationResponse> PinConversation(
      const rpc::Caller& caller, const v1::PinConversationRequest& request);
  absl::StatusOr<v1::TopConversationsResponse> TopConversations(
      const rpc::Caller& caller, const v1::TopConversationsRequest& request);
  absl::StatusOr<v1::NoSpeakingEmpty> SetNoSpeaking(const rpc::Caller& caller,
                                                   const v1::SetNoSpeakingRequest& request);
  absl::StatusOr<v1::GetNoSpeakingResponse> GetNoSpeaking(const rpc::Caller& caller,
                                                          const v1::GetNoSpeakingRequest& request);

 private:
  // A send that passed every check and waits to be stored. Points into the
  // caller and request of the call that staged it.
  struct StagedSend {
    const rpc::Caller* caller = nullptr;
    SendJob job;
    const v1::SendC2CRequest* request = nullptr;
    std::optional<v1::SendC2CRequest> rewritten;  // by the before-send callback
  };
  // Validates, checks permissions and runs the before-send callback. Answers
  // at once when nothing is to be stored (online-only or dropped); otherwise
  // fills *staged and returns nullopt.
  absl::StatusOr<std::optional<v1::SendC2CResponse>> StageSend(const rpc::Caller& caller,
                                                               const v1::SendC2CRequest& request,
                                                               StagedSend* staged);
  // After storage: delivery, after-send callbacks and the sender's answer.
  absl::StatusOr<v1::SendC2CResponse> FinishSend(const StagedSend& staged,
                                                 const absl::StatusOr<SendResult>& stored);
  // Builds the job of one send; errors carry openim codes.
  absl::StatusOr<SendJob> PrepareJob(const rpc::Caller& caller, const v1::SendC2CRequest& request,
                                     bool* online_only);
  // Queues a stored message's deliveries with its hand-off ticket.
  void DeliverStored(uint64_t sdkappid, const SendResult& result);
  // The message a recall or edit is about, checked against the caller:
  // 20022 when missing, 20023 when recalled, 20003 when not the caller's own.
  absl::StatusOr<StoredMessage> OwnMessage(const rpc::Caller& caller, const std::string& from,
                                           const std::string& to, const std::string& msg_key);
  void DeliverChange(uint64_t sdkappid, const StoredMessage& message, const ChangeSeqs& seqs,
                     v1::TimelineEvent::Kind kind, const std::string& msg_key,
                     const v1::C2CMessage* content);

  MessageStore* store_;
  GroupMessageStore* groups_ = nullptr;
  BatchWriter* writer_;
  delivery::Deliverer* deliverer_;
  // Blocklist and friendship policy; 0 or the code the send is refused with.
  absl::Status CheckPermission(const rpc::Caller& caller, const SendJob& job,
                               int32_t* refused_code);

  // C2C.CallbackBeforeSendMsg: may refuse (error), drop (sets *dropped) or
  // rewrite the body (the job, and *rewritten as the request to deliver).
  absl::Status BeforeSend(const rpc::Caller& caller, SendJob* job, bool online_only,
                          const v1::SendC2CRequest& request,
                          std::optional<v1::SendC2CRequest>* rewritten, bool* dropped);
  // The after-send commands the app wants for a message to `to`:
  // C2C.CallbackAfterSendMsg and, for robot accounts, Bot.OnC2CMessage.
  std::vector<std::string> AfterSendCommands(uint64_t sdkappid, const std::string& to);
  // Queues the job's after_commands; `owed_ids` are their outbox rows (none
  // for an online-only message), deleted once the events are queued.
  void AfterSend(const SendJob& job, const std::string& msg_key, uint32_t msg_seq,
                 int64_t msg_time, bool online_only, const std::vector<int64_t>& owed_ids);
  struct AfterSendItem {
    SendJob job;
    std::string msg_key;
    uint32_t msg_seq = 0;
    int64_t msg_time = 0;
    bool online_only = false;
    std::vector<int64_t> owed_ids;
  };
  // Makes the payloads of a batch of after-sends and hands them to callbacks_.
  std::vector<bool> QueueAfterSends(const std::vector<AfterSendItem>& items);
  // The user's unread C2C messages in total (for callback payloads).
  uint32_t TotalUnread(uint64_t sdkappid, const std::string& user);

  SendPermission* permissions_;
  NoSpeakingCache* no_speaking_ = nullptr;
  std::function<void(const std::string&)> announce_no_speaking_;
  callbacks::CallbackClient* callbacks_ = nullptr;
  Clock now_;
  accounts::ExistenceChecker existence_;
  // Timeline head reads (one per login and per sync) gathered into one
  // statement per batch, so a login storm does not queue on the pool.
  static constexpr size_t kMaxHeadReadsPerBatch = 1000;
  batching::Batcher<std::pair<uint64_t, std::string>, absl::StatusOr<uint64_t>> head_reads_;
  // Outbox rows whose events are queued, deleted by DeleteSettledCallbacks.
  std::mutex settled_mu_;
  std::vector<int64_t> settled_ids_;
  // After-sends whose payloads are made a batch at a time (one unread-count
  // query each batch), off the sender's path; null once stopped.
  std::mutex after_sends_mu_;
  std::unique_ptr<batching::Batcher<AfterSendItem, bool>> after_sends_;
};

class MessageGrpcService final : public v1::MessageService::Service {
 public:
  explicit MessageGrpcService(MessageLogic* logic) : logic_(logic) {}
  grpc::Status SendC2C(grpc::ServerContext* context, const v1::SendC2CRequest* request,
                       v1::SendC2CResponse* response) override;
  grpc::Status BatchSendC2C(grpc::ServerContext* context, const v1::BatchSendC2CRequest* request,
                            v1::BatchSendC2CResponse* response) override;
  grpc::Status SendFromClients(grpc::ServerContext* context,
                               const v1::SendFromClientsRequest* request,
                               v1::SendFromClientsResponse* response) override;
  grpc::Status Sync(grpc::ServerContext* context, const v1::SyncRequest* request,
                    v1::SyncResponse* response) override;
#define PARLEY_MESSAGE_RPC(Method, Req, Resp)                                        \
  grpc::Status Method(grpc::ServerContext* context, const v1::Req* request,           \
                      v1::Resp* response) override {                                  \
    return rpc::ServeAsCaller(context, request, response,                             \
                              [&](const auto& c, const auto& r) { return logic_->Method(c, r); }); \
  }
  PARLEY_MESSAGE_RPC(GetTimelineHeads, GetTimelineHeadsRequest, GetTimelineHeadsResponse)
  PARLEY_MESSAGE_RPC(ImportC2C, ImportC2CRequest, ImportC2CResponse)
  PARLEY_MESSAGE_RPC(GetRoamMessages, GetRoamMessagesRequest, GetRoamMessagesResponse)
  PARLEY_MESSAGE_RPC(Recall, RecallRequest, RecallResponse)
  PARLEY_MESSAGE_RPC(Modify, ModifyRequest, ModifyResponse)
  PARLEY_MESSAGE_RPC(DeleteForOwner, DeleteForOwnerRequest, DeleteForOwnerResponse)
  PARLEY_MESSAGE_RPC(MarkRead, MarkReadRequest, MarkReadResponse)
  PARLEY_MESSAGE_RPC(GetUnread, GetUnreadRequest, GetUnreadResponse)
  PARLEY_MESSAGE_RPC(GetBadges, GetBadgesRequest, GetBadgesResponse)
  PARLEY_MESSAGE_RPC(GetConversations, GetConversationsRequest, GetConversationsResponse)
  PARLEY_MESSAGE_RPC(DeleteConversation, DeleteConversationRequest, DeleteConversationResponse)
  PARLEY_MESSAGE_RPC(PinConversation, PinConversationRequest, PinConversationResponse)
  PARLEY_MESSAGE_RPC(TopConversations, TopConversationsRequest, TopConversationsResponse)
  PARLEY_MESSAGE_RPC(SetNoSpeaking, SetNoSpeakingRequest, NoSpeakingEmpty)
  PARLEY_MESSAGE_RPC(GetNoSpeaking, GetNoSpeakingRequest, GetNoSpeakingResponse)
#undef PARLEY_MESSAGE_RPC

 private:
  MessageLogic* logic_;
};

}  // namespace parley::message
