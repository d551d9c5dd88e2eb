#include "group_msg_service.h"

#include "parley/delivery/topics.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "parley/delivery/group_tips.h"
#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/protojson/protojson.h"
#include "parley/rpc/client.h"
#include "validation.h"

namespace parley::message {
namespace {

constexpr char kBeforeSend[] = "Group.CallbackBeforeSendMsg";
constexpr char kAfterSend[] = "Group.CallbackAfterSendMsg";
constexpr char kAfterRecall[] = "Group.CallbackAfterRecallMsg";
constexpr char kSendMsgException[] = "Group.CallbackSendMsgException";
constexpr char kBotOnGroupMessage[] = "Bot.OnGroupMessage";
constexpr size_t kMaxGroupIdBytes = 96;
constexpr int32_t kCallbackFailed = 80003;

const char* TypeName(int32_t type) {
  switch (type) {
    case kTypeWork: return "Private";
    case kTypePublic: return "Public";
    case kTypeMeeting: return "ChatRoom";
    case kTypeCommunity: return "Community";
    default: return "AVChatRoom";
  }
}

// 10004 unless `account` is a user ID (1 to 32 bytes).
absl::Status CheckAccount(const std::string& account, const char* field) {
  if (account.empty() || account.size() > 32) {
    return errors::Error(kGroupInvalidParam, absl::StrCat(field, " is missing or invalid"));
  }
  return absl::OkStatus();
}

bool Has(const google::protobuf::RepeatedPtrField<std::string>& values, const char* wanted) {
  return std::find(values.begin(), values.end(), wanted) != values.end();
}

std::string ToJson(const google::protobuf::Message& m) { return protojson::Print(m); }

std::string ListJson(const google::protobuf::ListValue& list) {
  std::string json = protojson::Print(list);
  return json.empty() ? "[]" : json;
}

// The GroupAtInfo of a request as a JSON array (empty string: none).
std::string AtInfoJson(const v1::SendGroupRequest& request) {
  if (request.group_at_info_size() == 0) return "";
  v1::SendGroupRequest only;
  *only.mutable_group_at_info() = request.group_at_info();
  auto parsed = nlohmann::json::parse(protojson::Print(only), nullptr, false);
  if (!parsed.is_object() || !parsed.contains("GroupAtInfo")) return "";
  return parsed["GroupAtInfo"].dump();
}

nlohmann::json SendPayload(const rpc::Caller& caller, const v1::MemberContext& context,
                           const v1::SendGroupRequest& request, const std::string& from) {
  nlohmann::json payload;
  payload["GroupId"] = request.group_id();
  payload["Type"] = TypeName(context.group_type());
  payload["From_Account"] = from;
  payload["Operator_Account"] = caller.identifier;
  payload["Random"] = request.random();
  payload["OnlineOnlyFlag"] = request.online_only_flag();
  payload["MsgBody"] = nlohmann::json::parse(ListJson(request.msg_body()), nullptr, false);
  payload["CloudCustomData"] = request.cloud_custom_data();
  if (!request.topic_id().empty()) payload["TopicId"] = request.topic_id();
  return payload;
}

}  // namespace

GroupMessageLogic::GroupMessageLogic(GroupMessageStore* store, delivery::Deliverer* deliverer,
                                     std::shared_ptr<v1::GroupService::StubInterface> groups,
                                     GroupContextCache* contexts, Clock now, Random random)
    : store_(store),
      deliverer_(deliverer),
      groups_(std::move(groups)),
      contexts_(contexts),
      now_(std::move(now)),
      random_(std::move(random)) {
  for (size_t i = 0; i < kAppendWriters; ++i) {
    appends_.push_back(std::make_unique<AppendBatcher>(
        kMaxAppendsPerBatch,
        [store](const std::vector<GroupAppend>& events) { return store->AppendMany(events); }));
  }
}

absl::StatusOr<v1::MemberContext> GroupMessageLogic::Context(uint64_t sdkappid,
                                                             const std::string& group,
                                                             const std::string& user) {
  if (group.empty() || group.size() > kMaxGroupIdBytes) {
    return errors::Error(kGroupInvalidId, "GroupId is missing or invalid");
  }
  return contexts_->Get(sdkappid, group, user);
}

absl::StatusOr<std::string> GroupMessageLogic::Stream(const std::string& group,
                                                       const std::string& topic) {
  if (topic.empty()) return group;
  if (!delivery::TopicOf(topic, group) || topic.size() > delivery::kMaxTopicIdBytes) {
    return errors::Error(kGroupInvalidTopic, "TopicId is not a topic of the group");
  }
  return topic;
}

absl::StatusOr<v1::MemberContext> GroupMessageLogic::Reader(const rpc::Caller& caller,
                                                            const std::string& group,
                                                            uint64_t* first_seq) {
  auto context = Context(caller.sdkappid, group, caller.is_admin ? "" : caller.identifier);
  if (!context.ok()) return context.status();
  if (auto st = NotForRooms(context->group_type(), kGroupNoRoaming, "reading history"); !st.ok()) return st;
  *first_seq = 1;
  if (caller.is_admin) return context;
  if (!context->member()) {
    return errors::Error(kGroupNoPermission, "you are not a member of this group");
  }
  if (context->topic()) return context;  // a community's members read its topics whole
  auto seqs = store_->MemberSeqs(caller.sdkappid, caller.identifier, {group});
  if (!seqs.ok()) return seqs.status();
  uint64_t join_seq = seqs->empty() ? 0 : (*seqs)[0].join_seq;
  *first_seq = FirstReadableSeq(context->group_type(), join_seq);
  return context;
}

absl::Status GroupMessageLogic::BeforeSend(const rpc::Caller& caller,
                                           const v1::MemberContext& context,
                                           v1::SendGroupRequest* request, bool* dropped) {
  *dropped = false;
  if (callbacks_ == nullptr ||
      Has(request->forbid_callback_control(), "ForbidBeforeSendMsgCallback") ||
      !callbacks_->Enabled(caller.sdkappid, kBeforeSend)) {
    return absl::OkStatus();
  }
  auto verdict = callbacks_->Before(
      caller.sdkappid, kBeforeSend,
      SendPayload(caller, context, *request, request->from_account()).dump(),
      callbacks::OptPlatform(caller.is_admin, caller.platform), caller.client_ip);
  if (verdict.verdict() == v1::BeforeResponse::DROP) {
    *dropped = true;
    return absl::OkStatus();
  }
  if (verdict.verdict() == v1::BeforeResponse::REJECT) {
    int32_t code = verdict.error_code();
    // [10100, 10200] are the app's own codes, 80003 the failure policy's
    // refusal (backend unreachable); anything else is the generic refusal.
    if (code != kCallbackFailed && (code < 10100 || code > 10200)) code = kGroupRefusedByCallback;
    return errors::Error(code, verdict.error_info().empty()
                                   ? "the message was refused by the app's before-send callback"
                                   : verdict.error_info());
  }
  if (verdict.response_json().empty()) return absl::OkStatus();
  auto answer = nlohmann::json::parse(verdict.response_json(), nullptr, false);
  if (!answer.is_object()) return absl::OkStatus();
  v1::SendGroupRequest changed = *request;
  if (auto body = answer.find("MsgBody"); body != answer.end() && body->is_array()) {
    if (!protojson::Parse(body->dump(), changed.mutable_msg_body(), {true}).ok()) {
      return absl::OkStatus();
    }
  }
  if (auto cloud = answer.find("CloudCustomData"); cloud != answer.end() && cloud->is_string()) {
    changed.set_cloud_custom_data(cloud->get<std::string>());
  }
  std::string body_json = ListJson(changed.msg_body());
  if (!ValidateMsgBody(changed.msg_body(), body_json.size() + changed.cloud_custom_data().size())
           .ok()) {
    log::Warn("callback_rewrite_ignored",
              {{"sdkappid", caller.sdkappid}, {"reason", "the rewritten message is invalid"}});
    return absl::OkStatus();
  }
  *request = std::move(changed);
  return absl::OkStatus();
}

void GroupMessageLogic::AfterSend(const rpc::Caller& caller, const v1::MemberContext& context,
                                  const v1::SendGroupRequest& request, uint64_t seq,
                                  int64_t time) {
  if (callbacks_ == nullptr) return;
  // Robots (@RBT# accounts) the message @-mentions get Bot.OnGroupMessage.
  nlohmann::json robots = nlohmann::json::array();
  for (const auto& at : request.group_at_info()) {
    if (at.group_at_account().rfind("@RBT#", 0) == 0) robots.push_back(at.group_at_account());
  }
  bool after = !Has(request.forbid_callback_control(), "ForbidAfterSendMsgCallback") &&
               callbacks_->Enabled(caller.sdkappid, kAfterSend);
  bool bot = !robots.empty() && callbacks_->Enabled(caller.sdkappid, kBotOnGroupMessage);
  if (!after && !bot) return;
  nlohmann::json payload = SendPayload(caller, context, request, request.from_account());
  payload["MsgSeq"] = seq;
  payload["MsgTime"] = time;
  std::string at = AtInfoJson(request);
  if (!at.empty()) payload["GroupAtInfo"] = nlohmann::json::parse(at, nullptr, false);
  std::string platform = callbacks::OptPlatform(caller.is_admin, caller.platform);
  if (after) callbacks_->After(caller.sdkappid, kAfterSend, payload.dump(), platform, caller.client_ip);
  if (bot) {
    payload["AtRobotAccount"] = robots;
    callbacks_->After(caller.sdkappid, kBotOnGroupMessage, payload.dump(), platform,
                      caller.client_ip);
  }
}

void GroupMessageLogic::SendFailed(const rpc::Caller& caller, const v1::MemberContext& context,
                                   const v1::SendGroupRequest& request,
                                   const absl::Status& status) {
  if (callbacks_ == nullptr || !callbacks_->Enabled(caller.sdkappid, kSendMsgException)) return;
  nlohmann::json payload = SendPayload(caller, context, request, request.from_account());
  payload["ErrorCode"] = errors::TencentCode(status, kGroupInternal);
  payload["ErrorInfo"] = errors::InfoOf(status);
  callbacks_->After(caller.sdkappid, kSendMsgException, payload.dump(),
                    callbacks::OptPlatform(caller.is_admin, caller.platform), caller.client_ip);
}

void GroupMessageLogic::Deliver(uint64_t sdkappid, v1::GroupEvent event) {
  delivery::SplitStream(&event);  // a topic's event goes to its community's members
  v1::GroupDelivery delivery;
  delivery.set_group_id(event.group_id());
  event.SerializeToString(delivery.mutable_event());
  deliverer_->EnqueueGroup(sdkappid, std::move(delivery));
}

v1::GroupEvent GroupMessageLogic::MessageEvent(const v1::SendGroupRequest& request, int64_t now) {
  v1::GroupEvent event;
  event.set_group_id(request.group_id());
  event.set_kind(v1::GroupEvent::KIND_MESSAGE);
  event.set_event_time(static_cast<uint32_t>(now));
  auto* m = event.mutable_message();
  m->set_group_id(request.group_id());
  m->set_from_account(request.from_account());
  m->set_msg_random(request.random());
  m->set_msg_time_stamp(static_cast<uint32_t>(now));
  m->set_msg_priority(request.msg_priority().empty() ? "Normal" : request.msg_priority());
  *m->mutable_msg_body() = request.msg_body();
  m->set_cloud_custom_data(request.cloud_custom_data());
  *m->mutable_group_at_info() = request.group_at_info();
  *m->mutable_to_account() = request.to_account();
  m->set_need_read_receipt(request.need_read_receipt() ? 1 : 0);
  m->set_client_msg_id(request.client_msg_id());
  if (request.has_offline_push_info()) *m->mutable_offline_push_info() = request.offline_push_info();
  if (!request.topic_id().empty()) {
    event.set_topic_id(request.topic_id());
    m->set_topic_id(request.topic_id());
  }
  return event;
}

absl::StatusOr<v1::SendGroupResponse> GroupMessageLogic::SendGroup(
    const rpc::Caller& caller, const v1::SendGroupRequest& original) {
  static auto& stored = metrics::Registry::Default().GetCounter(
      "parley_group_messages_total", "group messages stored");
  v1::SendGroupRequest request = original;
  if (!caller.is_admin) {
    if (!request.from_account().empty() && request.from_account() != caller.identifier) {
      return errors::Error(kGroupNoPermission, "users send only as themselves");
    }
    request.set_from_account(caller.identifier);
  } else if (request.from_account().empty()) {
    request.set_from_account(caller.identifier);
  }
  if (request.from_account().size() > 32) {
    return errors::Error(kGroupInvalidParam, "From_Account is invalid");
  }
  if (auto st = CheckGroupSend(request); !st.ok()) return st;
  if (!request.has_random()) {
    if (caller.is_admin && request.client_msg_id().empty()) {
      return errors::Error(kGroupInvalidParam, "Random is required");
    }
    request.set_random(random_());
  }
  std::string body_json = ListJson(request.msg_body());
  if (auto st = CheckGroupBody(request.msg_body(), body_json, request.cloud_custom_data()); !st.ok()) {
    return st;
  }
  if (!caller.is_admin && no_speaking_ != nullptr) {
    auto mute = no_speaking_->Get(caller.sdkappid, request.from_account());
    if (!mute.ok()) return errors::Error(kGroupInternal, "could not read the sender's mute; retry");
    if (NoSpeakingNow(now_(), mute->group_until)) {
      return errors::Error(kGroupSenderMuted, "you are muted for group messages");
    }
  }
  auto stream = Stream(request.group_id(), request.topic_id());
  if (!stream.ok()) return stream.status();
  auto context = Context(caller.sdkappid, *stream, request.from_account());
  if (!context.ok()) return context.status();
  if (context->group_type() == kTypeRoom) return SendRoom(caller, *context, request, now_());
  if (context->support_topic() && !context->topic()) {
    return errors::Error(kGroupInvalidParam,
                         "the community's messages go to its topics: name one in TopicId");
  }
  bool admin_as_self = caller.is_admin && request.from_account() == caller.identifier;
  if (!context->member() && !admin_as_self) {
    return errors::Error(kGroupNoPermission, caller.is_admin
                                                 ? "From_Account is not a member of the group"
                                                 : "you are not a member of this group");
  }
  int64_t now = now_();
  if (!caller.is_admin &&
      SenderMuted(context->role(), context->mute_until(), context->mute_all(), now)) {
    return errors::Error(kGroupSenderMuted, "you are muted in this group");
  }
  if (!caller.is_admin) {
    if (auto st = PermissionToSend(*context); !st.ok()) return st;
  }
  bool dropped = false;
  if (auto st = BeforeSend(caller, *context, &request, &dropped); !st.ok()) return st;
  v1::SendGroupResponse response;
  response.set_msg_time(static_cast<uint32_t>(now));
  if (dropped) {
    response.set_msg_drop_reason("CallbackDropped");
    return response;
  }
  v1::GroupEvent event = MessageEvent(request, now);
  auto* m = event.mutable_message();
  if (request.online_only_flag() == 1) {
    // Online only: pushed with seq 0, never stored.
    response.set_msg_drop_reason("OnlineOnly");
    Deliver(caller.sdkappid, std::move(event));
    return response;
  }
  GroupAppend append;
  append.sdkappid = caller.sdkappid;
  append.group_id = *stream;
  append.group_type = context->group_type();
  append.kind = v1::GroupEvent::KIND_MESSAGE;
  append.from = request.from_account();
  append.random = request.random();
  append.time = now;
  append.priority = m->msg_priority();
  append.body_json = ListJson(request.msg_body());
  append.cloud_custom_data = request.cloud_custom_data();
  if (request.has_offline_push_info()) append.offline_push_json = ToJson(request.offline_push_info());
  append.at_info_json = AtInfoJson(request);
  append.to_accounts.assign(request.to_account().begin(), request.to_account().end());
  append.need_receipt = request.need_read_receipt() != 0;
  append.counts_unread = CountsUnread(request);
  append.updates_conversation = std::none_of(
      request.send_msg_control().begin(), request.send_msg_control().end(),
      [](const std::string& c) { return c == "NoLastMsg"; });
  append.client_msg_id = request.client_msg_id();
  append.dedup = true;
  append.event = event;
  size_t writer = std::hash<std::string>()(append.group_id) % appends_.size();
  auto result = appends_[writer]->Submit({std::move(append)}).get()[0];
  if (!result.ok()) {
    SendFailed(caller, *context, request, result.status());
    return result.status();
  }
  response.set_msg_seq(static_cast<uint32_t>(result->seq));
  response.set_msg_time(static_cast<uint32_t>(result->time));
  if (result->duplicate) {
    response.set_duplicate(true);
    return response;
  }
  stored.Increment();
  if (result->delivery) deliverer_->EnqueueGroup(caller.sdkappid, *result->delivery, result->ticket);
  {
    // The group's last message, the sender's last send and a Work group's
    // activation go to the group service with the next flush.
    std::lock_guard lock(notes_mu_);
    auto& note = notes_[{caller.sdkappid, *stream, request.from_account()}];
    note.set_group_id(*stream);
    note.set_from_account(request.from_account());
    note.set_msg_seq(std::max<uint64_t>(note.msg_seq(), result->seq));
    note.set_msg_time(std::max<int64_t>(note.msg_time(), result->time));
  }
  AfterSend(caller, *context, request, result->seq, result->time);
  return response;
}

void GroupMessageLogic::FlushNotes() {
  std::map<std::tuple<uint64_t, std::string, std::string>, v1::GroupMessageNote> notes;
  {
    std::lock_guard lock(notes_mu_);
    notes.swap(notes_);
  }
  std::map<uint64_t, v1::NoteGroupMessagesRequest> by_app;
  for (auto& [key, note] : notes) *by_app[std::get<0>(key)].add_notes() = std::move(note);
  for (const auto& [sdkappid, request] : by_app) {
    rpc::Caller self = rpc::ServiceCaller(sdkappid, "parley-message");
    auto context = rpc::NewContext(&self, std::chrono::milliseconds(5000));
    v1::GroupEmpty response;
    grpc::Status status = groups_->NoteGroupMessages(context.get(), request, &response);
    if (!status.ok()) {
      // Only the group's info lags (LastMsgTime, NextMsgSeq, a Work group's
      // listing); the messages themselves are stored.
      log::Warn("group_note_failed", {{"sdkappid", sdkappid},
                                      {"notes", request.notes_size()},
                                      {"error", status.error_message()}});
    }
  }
}

absl::StatusOr<v1::GetGroupHistoryResponse> GroupMessageLogic::GetGroupHistory(
    const rpc::Caller& caller, const v1::GetGroupHistoryRequest& request) {
  if (request.req_msg_number() == 0 || request.req_msg_number() > kMaxHistoryPage) {
    return errors::Error(kGroupInvalidParam, "ReqMsgNumber must be 1 to 20");
  }
  auto stream = Stream(request.group_id(), request.topic_id());
  if (!stream.ok()) return stream.status();
  uint64_t first = 1;
  auto context = Reader(caller, *stream, &first);
  if (!context.ok()) return context.status();
  auto head = store_->Head(caller.sdkappid, *stream);
  if (!head.ok()) return head.status();
  uint64_t last = request.req_msg_seq() == 0 ? head->first
                                             : std::min<uint64_t>(request.req_msg_seq(), head->first);
  v1::GetGroupHistoryResponse response;
  response.set_group_id(request.group_id());
  if (last < first) {
    response.set_is_finished(1);
    return response;
  }
  // Newest first, a page of 50 seqs at a time (at most 10 pages a call),
  // skipping silent tips and, unless asked for, recalled messages.
  std::string reader = caller.is_admin ? "" : caller.identifier;
  const int wanted = static_cast<int>(request.req_msg_number());
  uint64_t upper = last;  // the newest seq not yet examined
  for (int round = 0; round < 10 && upper >= first && response.rsp_msg_list_size() < wanted;
       ++round) {
    uint64_t lower = upper - first >= 49 ? upper - 49 : first;
    auto events = store_->Range(caller.sdkappid, *stream, lower, upper, 50, reader);
    if (!events.ok()) return events.status();
    uint64_t examined = lower;
    for (auto it = events->rbegin(); it != events->rend(); ++it) {
      if (response.rsp_msg_list_size() >= wanted) break;
      examined = it->seq();
      if (it->kind() == v1::GroupEvent::KIND_TIP && it->tip().silent()) continue;
      if (it->message().msg_flag_bits() == 8 && request.with_recalled_msg() != 1) continue;
      *response.add_rsp_msg_list() = it->message();
    }
    upper = examined - 1;
    if (examined == 0) break;
  }
  response.set_is_finished(upper < first ? 1 : 0);
  return response;
}

absl::StatusOr<v1::GetGroupRangeResponse> GroupMessageLogic::GetGroupRange(
    const rpc::Caller& caller, const v1::GetGroupRangeRequest& request) {
  uint32_t limit = request.limit() == 0 ? kMaxRangePage : std::min(request.limit(), kMaxRangePage);
  auto stream = Stream(request.group_id(), request.topic_id());
  if (!stream.ok()) return stream.status();
  uint64_t first = 1;
  if (caller.is_service) {
    if (request.group_id().empty()) return errors::Error(kGroupInvalidId, "group_id is missing");
  } else {
    auto context = Reader(caller, *stream, &first);
    if (!context.ok()) return context.status();
  }
  auto head = store_->Head(caller.sdkappid, *stream);
  if (!head.ok()) return head.status();
  v1::GetGroupRangeResponse response;
  response.set_max_seq(head->first);
  uint64_t from = std::max(request.after_seq() + 1, first);
  if (from > head->first) {
    response.set_complete(true);
    return response;
  }
  auto events = store_->Range(caller.sdkappid, *stream, from, head->first, limit,
                              caller.is_admin ? "" : caller.identifier);
  if (!events.ok()) return events.status();
  for (auto& event : *events) *response.add_events() = std::move(event);
  response.set_complete(response.events_size() == 0 ||
                        response.events(response.events_size() - 1).seq() >= head->first);
  return response;
}

absl::StatusOr<v1::GetGroupRangesResponse> GroupMessageLogic::GetGroupRanges(
    const rpc::Caller& caller, const v1::GetGroupRangesRequest& request) {
  if (caller.is_admin) return errors::Error(kGroupInvalidParam, "group ranges are per user");
  if (request.cursors_size() == 0 || request.cursors_size() > 1000) {
    return errors::Error(kGroupInvalidParam, "cursors must hold 1 to 1000 groups");
  }
  uint32_t limit = request.limit_per_group() == 0 ? 20
                                                  : std::min(request.limit_per_group(), kMaxRangePage);
  // The caller's standing in every group at once: membership, join seq and
  // the group's type and head (no call to the group service).
  std::vector<std::string> ids, communities;
  for (const auto& cursor : request.cursors()) {
    ids.push_back(cursor.group_id());
    if (!cursor.topic_id().empty()) communities.push_back(cursor.group_id());
  }
  auto standing = store_->MemberSeqs(caller.sdkappid, caller.identifier, ids);
  if (!standing.ok()) return standing.status();
  std::map<std::string, const GroupMemberSeqs*> by_group;
  for (const auto& s : *standing) by_group[s.group_id] = &s;
  // Topics: a member of the community reads them whole.
  std::map<std::string, uint64_t> topic_heads;
  if (!communities.empty()) {
    auto heads = store_->TopicHeads(caller.sdkappid, communities);
    if (!heads.ok()) return heads.status();
    topic_heads.insert(heads->begin(), heads->end());
  }
  // Where each cursor's stream is: its head and first readable seq, or
  // nothing when the caller may not read it.
  auto place = [&](const v1::GroupCursor& cursor) -> std::optional<std::pair<uint64_t, uint64_t>> {
    auto it = by_group.find(cursor.group_id());
    if (it == by_group.end()) return std::nullopt;
    if (cursor.topic_id().empty()) {
      return std::pair<uint64_t, uint64_t>{
          it->second->max_seq, FirstReadableSeq(it->second->group_type, it->second->join_seq)};
    }
    if (!delivery::TopicOf(cursor.topic_id(), cursor.group_id())) return std::nullopt;
    auto head = topic_heads.find(cursor.topic_id());
    return std::pair<uint64_t, uint64_t>{head == topic_heads.end() ? 0 : head->second, 1};
  };
  std::vector<std::pair<std::string, uint64_t>> from;
  for (const auto& cursor : request.cursors()) {
    auto at = place(cursor);
    if (!at) continue;
    uint64_t start = std::max(cursor.after_seq() + 1, at->second);
    if (start <= at->first) {
      from.push_back({delivery::StreamOf(cursor.group_id(), cursor.topic_id()), start});
    }
  }
  std::map<std::string, std::vector<v1::GroupEvent>> events;
  if (!from.empty()) {
    auto read = store_->Ranges(caller.sdkappid, from, limit, caller.identifier);
    if (!read.ok()) return read.status();
    events = std::move(*read);
  }
  v1::GetGroupRangesResponse response;
  for (const auto& cursor : request.cursors()) {
    auto* range = response.add_ranges();
    range->set_group_id(cursor.group_id());
    range->set_topic_id(cursor.topic_id());
    auto at = place(cursor);
    if (!at) {
      range->set_error_code(kGroupNoPermission);
      continue;
    }
    range->set_max_seq(at->first);
    auto found = events.find(delivery::StreamOf(cursor.group_id(), cursor.topic_id()));
    if (found != events.end()) {
      for (auto& event : found->second) *range->add_events() = std::move(event);
    }
    uint64_t last = range->events_size() > 0 ? range->events(range->events_size() - 1).seq()
                                             : cursor.after_seq();
    range->set_complete(last >= at->first || range->events_size() < static_cast<int>(limit));
  }
  return response;
}

absl::StatusOr<v1::RecallGroupResponse> GroupMessageLogic::RecallGroup(
    const rpc::Caller& caller, const v1::RecallGroupRequest& request) {
  if (request.msg_seq_list_size() == 0) {
    return errors::Error(kGroupInvalidParam, "MsgSeqList is empty");
  }
  if (request.msg_seq_list_size() > 100) {
    return errors::Error(kGroupInvalidParam, "MsgSeqList has more than 100 entries");
  }
  auto stream = Stream(request.group_id(), request.topic_id());
  if (!stream.ok()) return stream.status();
  auto context = Context(caller.sdkappid, *stream, caller.is_admin ? "" : caller.identifier);
  if (!context.ok()) return context.status();
  if (auto st = NotForRooms(context->group_type(), kGroupTypeNoRecall, "recall"); !st.ok()) return st;
  if (!caller.is_admin && !context->member()) {
    return errors::Error(kGroupNoPermission, "you are not a member of this group");
  }
  int64_t now = now_();
  v1::RecallGroupResponse response;
  nlohmann::json recalled = nlohmann::json::array();
  for (const auto& item : request.msg_seq_list()) {
    auto* result = response.add_recall_ret_list();
    result->set_msg_seq(item.msg_seq());
    auto found = store_->Find(caller.sdkappid, *stream, item.msg_seq());
    if (!found.ok()) return found.status();
    if (!found->has_value()) {
      result->set_ret_code(kGroupRecallNotFound);
      continue;
    }
    const GroupEventInfo& info = **found;
    if (info.kind != v1::GroupEvent::KIND_MESSAGE) {
      result->set_ret_code(kGroupNotRecallable);
      continue;
    }
    if (info.recalled) {
      result->set_ret_code(kGroupRecallNotFound);
      continue;
    }
    auto allowed = MayRecall(caller.is_admin, context->role(), caller.identifier, info.from,
                             info.time, now);
    if (!allowed.ok()) {
      result->set_ret_code(errors::TencentCode(allowed));
      continue;
    }
    auto changed = store_->Recall(caller.sdkappid, *stream, item.msg_seq());
    if (!changed.ok()) return changed.status();
    if (!*changed) {
      result->set_ret_code(kGroupRecallNotFound);
      continue;
    }
    v1::GroupEvent event;
    event.set_group_id(*stream);
    event.set_kind(v1::GroupEvent::KIND_RECALL);
    event.set_target_seq(item.msg_seq());
    event.set_event_time(static_cast<uint32_t>(now));
    Deliver(caller.sdkappid, event);
    recalled.push_back({{"MsgSeq", item.msg_seq()}});
  }
  if (!recalled.empty() && callbacks_ != nullptr &&
      callbacks_->Enabled(caller.sdkappid, kAfterRecall)) {
    nlohmann::json payload;
    payload["GroupId"] = request.group_id();
    payload["Type"] = TypeName(context->group_type());
    payload["Operator_Account"] = caller.identifier;
    payload["MsgSeqList"] = recalled;
    if (!request.topic_id().empty()) payload["TopicId"] = request.topic_id();
    callbacks_->After(caller.sdkappid, kAfterRecall, payload.dump(),
                      callbacks::OptPlatform(caller.is_admin, caller.platform), caller.client_ip);
  }
  return response;
}

absl::StatusOr<v1::GetGroupStatesResponse> GroupMessageLogic::GetGroupStates(
    const rpc::Caller& caller, const v1::GetGroupStatesRequest& request) {
  if (caller.is_admin && !caller.is_service) {
    return errors::Error(kGroupInvalidParam, "group states are per user");
  }
  if (request.group_ids_size() > 1000) {
    return errors::Error(kGroupInvalidParam, "at most 1000 group_ids");
  }
  if (!request.topics_of().empty()) return TopicStates(caller, request.topics_of());
  auto seqs = store_->MemberSeqs(caller.sdkappid, caller.identifier,
                                 {request.group_ids().begin(), request.group_ids().end()});
  if (!seqs.ok()) return seqs.status();
  v1::GetGroupStatesResponse response;
  for (const auto& s : *seqs) {
    auto* state = response.add_groups();
    state->set_group_id(s.group_id);
    state->set_max_seq(s.max_seq);
    state->set_read_seq(s.read_seq);
    state->set_join_seq(s.join_seq);
    state->set_unread(s.unread);
    state->set_msg_flag(MsgFlagName(s.msg_flag));
  }
  if (request.with_topics()) {
    // The heads of the communities' topics (gateways route them by seq).
    std::vector<std::string> communities;
    for (const auto& s : *seqs) {
      if (s.group_type == kTypeCommunity) communities.push_back(s.group_id);
    }
    if (!communities.empty()) {
      auto heads = store_->TopicHeads(caller.sdkappid, communities);
      if (!heads.ok()) return heads.status();
      for (const auto& [topic, max_seq] : *heads) {
        auto* state = response.add_groups();
        state->set_group_id(std::string(delivery::CommunityOf(topic)));
        state->set_topic_id(topic);
        state->set_max_seq(max_seq);
      }
    }
  }
  return response;
}

absl::StatusOr<v1::GetGroupStatesResponse> GroupMessageLogic::TopicStates(
    const rpc::Caller& caller, const std::string& community) {
  auto member = store_->MemberSeqs(caller.sdkappid, caller.identifier, {community});
  if (!member.ok()) return member.status();
  if (member->empty()) return errors::Error(kGroupNoPermission, "you are not a member of this group");
  auto topics = store_->TopicSeqs(caller.sdkappid, caller.identifier, community);
  if (!topics.ok()) return topics.status();
  v1::GetGroupStatesResponse response;
  for (const auto& t : *topics) {
    auto* state = response.add_groups();
    state->set_group_id(community);
    state->set_topic_id(t.group_id);
    state->set_max_seq(t.max_seq);
    state->set_read_seq(t.read_seq);
    state->set_unread(t.unread);
    state->set_msg_flag(MsgFlagName((*member)[0].msg_flag));
  }
  return response;
}

absl::StatusOr<v1::MarkGroupReadResponse> GroupMessageLogic::MarkGroupRead(
    const rpc::Caller& caller, const v1::MarkGroupReadRequest& request) {
  if (caller.is_admin) return errors::Error(kGroupInvalidParam, "read positions are per user");
  if (request.group_id().empty() || request.group_id().size() > kMaxGroupIdBytes) {
    return errors::Error(kGroupInvalidId, "GroupId is missing or invalid");
  }
  if (!request.topic_id().empty()) {
    auto stream = Stream(request.group_id(), request.topic_id());
    if (!stream.ok()) return stream.status();
    auto member = store_->MemberSeqs(caller.sdkappid, caller.identifier, {request.group_id()});
    if (!member.ok()) return member.status();
    if (member->empty()) {
      return errors::Error(kGroupNoPermission, "you are not a member of this group");
    }
    auto read = store_->MarkTopicRead(caller.sdkappid, caller.identifier, *stream,
                                      request.read_seq());
    if (!read.ok()) return read.status();
    v1::MarkGroupReadResponse response;
    response.set_read_seq(*read);
    return response;
  }
  auto read = store_->MarkRead(caller.sdkappid, caller.identifier, request.group_id(),
                               request.read_seq());
  if (absl::IsNotFound(read.status())) {
    return errors::Error(kGroupNoPermission, "you are not a member of this group");
  }
  if (!read.ok()) return read.status();
  v1::MarkGroupReadResponse response;
  response.set_read_seq(*read);
  return response;
}

absl::StatusOr<uint64_t> GroupMessageLogic::StoreTip(uint64_t sdkappid, const std::string& group,
                                                     int32_t type, const v1::GroupTip& tip,
                                                     const std::vector<std::string>& to_accounts) {
  if (type == kTypeRoom) {
    // A room stores nothing: its tips (and notifications, to everyone) go
    // to the sessions in it, with seq 0.
    if (announce_) announce_(GroupContextCache::Announcement(sdkappid, group));
    DeliverRoomTip(sdkappid, group, tip, now_());
    return 0;
  }
  auto change = delivery::MembershipOf(tip);
  GroupAppend append;
  append.sdkappid = sdkappid;
  append.group_id = group;
  append.group_type = type;
  append.kind = v1::GroupEvent::KIND_TIP;
  append.from = tip.operator_account();
  append.time = now_();
  append.body_json = ToJson(tip);
  append.counts_unread = false;
  append.to_accounts = to_accounts;
  if (change.flag_changed) {
    for (const auto& user : change.joined) {
      append.flag_change = {user, delivery::MsgFlagValue(tip.detail())};
    }
  } else {
    append.joined = change.joined;
    append.joined_flag = delivery::MsgFlagValue(tip.detail());
  }
  append.left = change.left;
  append.dismissed = change.dismissed;
  if (tip.type() == "TopicDestroyed") append.destroyed_topic = tip.topic_id();
  auto result = store_->Append(append);
  if (!result.ok()) return result.status();
  if (announce_) announce_(GroupContextCache::Announcement(sdkappid, group));
  v1::GroupEvent event;
  event.set_group_id(group);
  event.set_seq(result->seq);
  event.set_kind(v1::GroupEvent::KIND_TIP);
  event.set_event_time(static_cast<uint32_t>(result->time));
  *event.mutable_tip() = tip;
  auto* m = event.mutable_message();
  m->set_group_id(group);
  m->set_from_account(tip.operator_account());
  m->set_msg_seq(static_cast<uint32_t>(result->seq));
  m->set_msg_time_stamp(static_cast<uint32_t>(result->time));
  m->set_is_system_msg(1);
  *m->mutable_tip() = tip;
  for (const auto& to : to_accounts) m->add_to_account(to);
  delivery::SplitStream(&event);  // a topic's notification
  v1::GroupDelivery delivery;
  delivery.set_group_id(event.group_id());
  event.SerializeToString(delivery.mutable_event());
  if (!change.flag_changed) {
    for (const auto& user : change.joined) delivery.add_route_users(user);
  }
  delivery.set_dismissed(change.dismissed);
  // At once: the group service answers its caller after this, so whatever
  // the caller sends next is routed with the change in place. While push is
  // down or slow the change still answers within a second: the tip is then
  // queued and retried, and members' gateways fetch it by seq when the next
  // event shows the gap.
  grpc::Status delivered = deliverer_->DeliverGroupNow(sdkappid, delivery);
  if (!delivered.ok()) {
    log::Warn("group_tip_delivery_late",
              {{"sdkappid", sdkappid}, {"error", delivered.error_message()}});
  }
  return result->seq;
}

absl::StatusOr<v1::PostGroupTipResponse> GroupMessageLogic::PostGroupTip(
    const rpc::Caller& caller, const v1::PostGroupTipRequest& request) {
  if (!caller.is_service) return errors::Error(kGroupNoPermission, "internal callers only");
  if (request.group_id().empty()) return errors::Error(kGroupInvalidId, "group_id is missing");
  auto seq = StoreTip(caller.sdkappid, request.group_id(), request.group_type(), request.tip(), {});
  if (!seq.ok()) return seq.status();
  v1::PostGroupTipResponse response;
  response.set_seq(*seq);
  return response;
}

absl::StatusOr<v1::MemberContext> GroupMessageLogic::AdminOnly(const rpc::Caller& caller,
                                                               const std::string& group) {
  if (!caller.is_admin) return errors::Error(kGroupNoPermission, "app admins only");
  return Context(caller.sdkappid, group, "");
}

absl::StatusOr<v1::GroupMessageEmpty> GroupMessageLogic::ModifyGroupMsg(
    const rpc::Caller& caller, const v1::ModifyGroupMsgRequest& request) {
  if (request.msg_seq() == 0) return errors::Error(kGroupInvalidParam, "MsgSeq is missing");
  std::string body_json = ListJson(request.msg_body());
  if (auto st = CheckGroupBody(request.msg_body(), body_json, request.cloud_custom_data()); !st.ok()) {
    return st;
  }
  auto stream = Stream(request.group_id(), request.topic_id());
  if (!stream.ok()) return stream.status();
  auto context = Context(caller.sdkappid, *stream, caller.is_admin ? "" : caller.identifier);
  if (!context.ok()) return context.status();
  if (auto st = NotForRooms(context->group_type(), kGroupNoRoaming, "editing a message"); !st.ok()) return st;
  if (!caller.is_admin && !context->member()) {
    return errors::Error(kGroupNoPermission, "you are not a member of this group");
  }
  auto found = store_->Find(caller.sdkappid, *stream, request.msg_seq());
  if (!found.ok()) return found.status();
  if (!found->has_value() || (*found)->recalled || (*found)->deleted) {
    return errors::Error(kGroupRecallNotFound, "no such message");
  }
  if ((*found)->kind != v1::GroupEvent::KIND_MESSAGE) {
    return errors::Error(kGroupNotRecallable, "group tips cannot be edited");
  }
  if (!caller.is_admin && (*found)->from != caller.identifier) {
    return errors::Error(kGroupNoPermission, "users edit only their own messages");
  }
  std::optional<std::string> cloud;
  if (request.has_cloud_custom_data()) cloud = request.cloud_custom_data();
  if (auto st = store_->Modify(caller.sdkappid, *stream, request.msg_seq(), body_json, cloud);
      !st.ok()) {
    return st;
  }
  auto stored = store_->Range(caller.sdkappid, *stream, request.msg_seq(), request.msg_seq(), 1, "");
  if (stored.ok() && !stored->empty()) {
    v1::GroupEvent event;
    event.set_group_id(*stream);
    event.set_kind(v1::GroupEvent::KIND_EDIT);
    event.set_target_seq(request.msg_seq());
    event.set_event_time(static_cast<uint32_t>(now_()));
    *event.mutable_message() = (*stored)[0].message();
    Deliver(caller.sdkappid, event);
  }
  return v1::GroupMessageEmpty();
}

absl::StatusOr<v1::GroupMessageEmpty> GroupMessageLogic::DeleteGroupMsgBySender(
    const rpc::Caller& caller, const v1::DeleteGroupMsgBySenderRequest& request) {
  if (auto st = CheckAccount(request.sender_account(), "Sender_Account"); !st.ok()) return st;
  auto stream = Stream(request.group_id(), request.topic_id());
  if (!stream.ok()) return stream.status();
  auto context = AdminOnly(caller, *stream);
  if (!context.ok()) return context.status();
  if (auto st = NotForRooms(context->group_type(), kGroupRoomNoDelete, "deleting messages"); !st.ok()) return st;
  auto seqs = store_->RecallBySender(caller.sdkappid, *stream, request.sender_account(), 1000);
  if (!seqs.ok()) return seqs.status();
  for (uint64_t seq : *seqs) {
    v1::GroupEvent event;
    event.set_group_id(*stream);
    event.set_kind(v1::GroupEvent::KIND_RECALL);
    event.set_target_seq(seq);
    event.set_event_time(static_cast<uint32_t>(now_()));
    Deliver(caller.sdkappid, event);
  }
  return v1::GroupMessageEmpty();
}

absl::StatusOr<v1::GroupMessageEmpty> GroupMessageLogic::ClearGroupMsg(
    const rpc::Caller& caller, const v1::ClearGroupMsgRequest& request) {
  auto stream = Stream(request.group_id(), request.topic_id());
  if (!stream.ok()) return stream.status();
  auto context = AdminOnly(caller, *stream);
  if (!context.ok()) return context.status();
  if (auto st = NotForRooms(context->group_type(), kGroupRoomNoDelete, "clearing messages"); !st.ok()) return st;
  if (auto st = store_->Clear(caller.sdkappid, *stream, request.msg_seq()); !st.ok()) {
    return st;
  }
  return v1::GroupMessageEmpty();
}

absl::StatusOr<v1::ImportGroupMsgResponse> GroupMessageLogic::ImportGroupMsg(
    const rpc::Caller& caller, const v1::ImportGroupMsgRequest& request) {
  if (request.msg_list_size() == 0) return errors::Error(kGroupInvalidParam, "MsgList is empty");
  if (request.msg_list_size() > 20) {
    return errors::Error(kGroupInvalidParam, "MsgList has more than 20 messages");
  }
  auto stream = Stream(request.group_id(), request.topic_id());
  if (!stream.ok()) return stream.status();
  auto context = AdminOnly(caller, *stream);
  if (!context.ok()) return context.status();
  if (auto st = NotForRooms(context->group_type(), kGroupNoPermission, "importing messages"); !st.ok()) return st;
  int64_t now = now_();
  // Senders must be accounts of the app (one check for the whole list).
  std::set<std::string> senders;
  if (existing_) {
    std::vector<std::string> named;
    for (const auto& m : request.msg_list()) named.push_back(m.from_account());
    auto found = existing_(caller.sdkappid, named);
    if (!found.ok()) return errors::Error(kGroupInternal, "could not check the senders; retry");
    senders = std::move(*found);
  }
  v1::ImportGroupMsgResponse response;
  for (const auto& m : request.msg_list()) {
    auto* result = response.add_import_msg_result();
    result->set_msg_time(m.send_time());
    std::string body_json = ListJson(m.msg_body());
    if (m.send_time() == 0 || m.send_time() > now || m.from_account().empty() ||
        m.from_account().size() > 32) {
      result->set_result(kGroupInvalidParam);
      continue;
    }
    if (existing_ && !senders.count(m.from_account())) {
      result->set_result(kGroupAccountMissing);
      continue;
    }
    if (auto st = ValidateMsgBody(m.msg_body(), body_json.size() + m.cloud_custom_data().size());
        !st.ok()) {
      result->set_result(errors::TencentCode(st) == kBodyTooLong ? kBodyTooLong
                                                                 : kGroupInvalidParam);
      continue;
    }
    GroupAppend append;
    append.sdkappid = caller.sdkappid;
    append.group_id = *stream;
    append.group_type = context->group_type();
    append.from = m.from_account();
    append.random = m.has_random() ? m.random() : random_();
    append.time = m.send_time();
    append.priority = "Normal";
    append.body_json = body_json;
    append.cloud_custom_data = m.cloud_custom_data();
    append.counts_unread = false;  // history, not news
    auto stored = store_->Append(append);
    if (!stored.ok()) return stored.status();
    result->set_msg_seq(static_cast<uint32_t>(stored->seq));
    result->set_result(0);
  }
  return response;
}

absl::StatusOr<v1::GroupMessageEmpty> GroupMessageLogic::SetUnreadMsgNum(
    const rpc::Caller& caller, const v1::SetUnreadMsgNumRequest& request) {
  if (auto st = CheckAccount(request.member_account(), "Member_Account"); !st.ok()) return st;
  auto context = AdminOnly(caller, request.group_id());
  if (!context.ok()) return context.status();
  if (auto st = NotForRooms(context->group_type(), kGroupNoRoaming, "an unread count"); !st.ok()) return st;
  auto st = store_->SetUnread(caller.sdkappid, request.group_id(), request.member_account(),
                              request.unread_msg_num());
  if (absl::IsNotFound(st)) return errors::Error(kGroupNoPermission, "the account is not a member");
  if (!st.ok()) return st;
  return v1::GroupMessageEmpty();
}

absl::StatusOr<v1::GroupMessageEmpty> GroupMessageLogic::SendGroupSystemNotification(
    const rpc::Caller& caller, const v1::SystemNotificationRequest& request) {
  if (request.content().empty() || request.content().size() > kMaxBodyBytes) {
    return errors::Error(kGroupInvalidParam, "Content is missing or longer than 12 KB");
  }
  if (request.to_members_account_size() > 500) {
    return errors::Error(kGroupInvalidParam, "ToMembers_Account has more than 500 accounts");
  }
  for (const auto& to : request.to_members_account()) {
    if (to.empty() || to.size() > 32) {
      return errors::Error(kGroupInvalidParam, "ToMembers_Account holds an invalid account");
    }
  }
  auto stream = Stream(request.group_id(), request.topic_id());
  if (!stream.ok()) return stream.status();
  auto context = AdminOnly(caller, *stream);
  if (!context.ok()) return context.status();
  if (context->group_type() == kTypeRoom && request.to_members_account_size() > 0) {
    return errors::Error(kGroupInvalidParam,
                         "an AVChatRoom's notifications go to every member: leave "
                         "ToMembers_Account empty");
  }
  v1::GroupTip tip;
  tip.set_type("SystemNotification");
  tip.set_operator_account(caller.identifier);
  tip.set_detail(request.content());
  auto seq = StoreTip(caller.sdkappid, *stream, context->group_type(), tip,
                      {request.to_members_account().begin(), request.to_members_account().end()});
  if (!seq.ok()) return seq.status();
  return v1::GroupMessageEmpty();
}

namespace {

std::vector<uint64_t> SeqsOf(const google::protobuf::RepeatedPtrField<v1::RecallSeq>& list) {
  std::vector<uint64_t> seqs;
  for (const auto& item : list) seqs.push_back(item.msg_seq());
  return seqs;
}

}  // namespace

absl::StatusOr<v1::GroupMessageEmpty> GroupMessageLogic::GroupMsgReceipt(
    const rpc::Caller& caller, const v1::GroupMsgReceiptRequest& request) {
  std::string reader = caller.is_admin ? request.from_account() : caller.identifier;
  if (auto st = CheckAccount(reader, "From_Account"); !st.ok()) return st;
  if (request.msg_seq_list_size() == 0 || request.msg_seq_list_size() > 100) {
    return errors::Error(kGroupInvalidParam, "MsgSeqList must hold 1 to 100 seqs");
  }
  auto context = Context(caller.sdkappid, request.group_id(), reader);
  if (!context.ok()) return context.status();
  if (auto st = NotForRooms(context->group_type(), kGroupNoRoaming, "a read receipt"); !st.ok()) return st;
  if (!context->member()) return errors::Error(kGroupNoPermission, "the reader is not a member");
  auto added = store_->AddReceipts(caller.sdkappid, request.group_id(), reader,
                                   SeqsOf(request.msg_seq_list()), now_());
  if (!added.ok()) return added.status();
  if (added->empty()) return v1::GroupMessageEmpty();
  std::vector<uint64_t> seqs;
  for (const auto& [seq, sender] : *added) seqs.push_back(seq);
  auto counts = store_->ReceiptCounts(caller.sdkappid, request.group_id(), seqs);
  if (!counts.ok()) return counts.status();
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < added->size(); ++i) {
    const auto& count = (*counts)[i];
    // The sender's devices see the counts move.
    v1::GroupEvent event;
    event.set_group_id(request.group_id());
    event.set_kind(v1::GroupEvent::KIND_RECEIPT);
    event.set_target_seq(count.seq);
    event.set_event_time(static_cast<uint32_t>(now_()));
    event.set_reader(reader);
    event.set_read_num(count.read);
    event.set_unread_num(count.unread);
    event.add_to_account((*added)[i].second);
    Deliver(caller.sdkappid, event);
    list.push_back({{"MsgSeq", count.seq}, {"ReadNum", count.read}, {"UnreadNum", count.unread}});
  }
  if (callbacks_ != nullptr && callbacks_->Enabled(caller.sdkappid, "Group.CallbackAfterReadReceipt")) {
    nlohmann::json payload;
    payload["GroupId"] = request.group_id();
    payload["Type"] = TypeName(context->group_type());
    payload["Operator_Account"] = reader;
    payload["GroupMsgReceiptList"] = list;
    callbacks_->After(caller.sdkappid, "Group.CallbackAfterReadReceipt", payload.dump(),
                      callbacks::OptPlatform(caller.is_admin, caller.platform), caller.client_ip);
  }
  return v1::GroupMessageEmpty();
}

absl::StatusOr<v1::GetGroupMsgReceiptResponse> GroupMessageLogic::GetGroupMsgReceipt(
    const rpc::Caller& caller, const v1::GetGroupMsgReceiptRequest& request) {
  if (request.msg_seq_list_size() == 0 || request.msg_seq_list_size() > 100) {
    return errors::Error(kGroupInvalidParam, "MsgSeqList must hold 1 to 100 seqs");
  }
  uint64_t first = 1;
  auto context = Reader(caller, request.group_id(), &first);
  if (!context.ok()) return context.status();
  auto counts = store_->ReceiptCounts(caller.sdkappid, request.group_id(),
                                      SeqsOf(request.msg_seq_list()));
  if (!counts.ok()) return counts.status();
  v1::GetGroupMsgReceiptResponse response;
  for (const auto& count : *counts) {
    // Messages from before the reader joined (Work, Public) are not theirs to see.
    if (!count.found || count.seq < first) continue;
    auto* item = response.add_group_msg_receipt_list();
    item->set_msg_seq(static_cast<uint32_t>(count.seq));
    item->set_read_num(count.read);
    item->set_unread_num(count.unread);
  }
  return response;
}

absl::StatusOr<v1::GetGroupMsgReceiptDetailResponse> GroupMessageLogic::GetGroupMsgReceiptDetail(
    const rpc::Caller& caller, const v1::GetGroupMsgReceiptDetailRequest& request) {
  if (request.filter() < 0 || request.filter() > 2) {
    return errors::Error(kGroupInvalidParam, "Filter must be 0, 1 or 2");
  }
  if (request.count() > 100) return errors::Error(kGroupInvalidParam, "Count must be at most 100");
  uint32_t count = request.count() == 0 ? 100 : request.count();
  uint64_t first = 1;
  auto context = Reader(caller, request.group_id(), &first);
  if (!context.ok()) return context.status();
  auto found = store_->Find(caller.sdkappid, request.group_id(), request.msg_seq());
  if (!found.ok()) return found.status();
  if (!found->has_value() || !(*found)->need_receipt || request.msg_seq() < first) {
    return errors::Error(kGroupRecallNotFound, "no message with a read receipt at MsgSeq");
  }
  // The cursor is "<last reader>\n<last non-reader>" of the previous page.
  std::string after_read, after_unread;
  if (auto nl = request.cursor().find('\n'); nl != std::string::npos) {
    after_read = request.cursor().substr(0, nl);
    after_unread = request.cursor().substr(nl + 1);
  }
  v1::GetGroupMsgReceiptDetailResponse response;
  response.set_msg_seq(request.msg_seq());
  bool finished = true;
  // One page of readers (read) or of the others, after *after; moves *after on.
  auto page = [&](bool read, std::string* after,
                  const std::function<void(const std::string&)>& add) -> absl::Status {
    auto accounts = store_->ReceiptAccounts(caller.sdkappid, request.group_id(),
                                            request.msg_seq(), read, *after, count);
    if (!accounts.ok()) return accounts.status();
    for (const auto& a : *accounts) add(a);
    if (accounts->size() == count) finished = false;
    if (!accounts->empty()) *after = accounts->back();
    return absl::OkStatus();
  };
  if (request.filter() != 2) {
    auto st = page(true, &after_read,
                   [&](const std::string& a) { response.add_read_list()->set_read_account(a); });
    if (!st.ok()) return st;
  }
  if (request.filter() != 1) {
    auto st = page(false, &after_unread, [&](const std::string& a) {
      response.add_unread_list()->set_unread_account(a);
    });
    if (!st.ok()) return st;
  }
  response.set_is_finished(finished ? 1 : 0);
  if (!finished) response.set_cursor(after_read + "\n" + after_unread);
  return response;
}

}  // namespace parley::message
