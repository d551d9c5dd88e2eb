#include "message_service.h"

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/protojson/protojson.h"
#include "parley/rpc/client.h"
#include "parley/rpc/serve.h"
#include "validation.h"

using parley::accounts::ValidUserId;

namespace parley::message {
namespace {

// openim codes (compat reference §2.5).
constexpr int32_t kNeedsAdmin = 90009;
constexpr int32_t kFromInvalid = 90008;
constexpr int32_t kToInvalid = 90003;
constexpr int32_t kRandomMissing = 90005;
constexpr int32_t kTooManyTargets = 90011;
constexpr int32_t kToNotRegistered = 90012;
constexpr int32_t kLifeTimeTooLarge = 90026;
constexpr int32_t kBatchToNotArray = 90028;
constexpr int32_t kBatchToEmpty = 90029;
constexpr int32_t kInternal = 90994;
constexpr int32_t kSenderInvalid = 20003;
constexpr int32_t kSendBlocked = 20007;
constexpr int32_t kSenderNoSpeaking = 20012;  // openconfigsvr/setnospeaking
constexpr int32_t kMessageNotFound = 20022;
constexpr int32_t kAlreadyRecalled = 20023;
constexpr int32_t kRecallTooLate = 20016;
constexpr int32_t kOpenimBadJson = 90001;
constexpr int32_t kConversationBadParam = 50002;
constexpr int32_t kTooManyPinned = 51012;
constexpr int kMaxPinned = 50;
constexpr int64_t kUserRecallWindowSeconds = 120;
constexpr uint32_t kDefaultRoamPage = 20;
constexpr uint32_t kMaxRoamPage = 100;
constexpr uint32_t kConversationPage = 100;
constexpr int64_t kMaxLifeTime = 604800;
constexpr size_t kMaxBatchTargets = 500;
constexpr uint32_t kMaxSyncPage = 200;
constexpr int kMaxHeadsPerCall = 1000;

// MsgRandom and MsgSeq only have to vary between messages; nothing secret
// rides on them, so a per-thread generator spares a locked CSPRNG call.
uint32_t RandomU32() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return static_cast<uint32_t>(generator());
}

std::string ToJson(const google::protobuf::Message& message) { return protojson::Print(message); }

bool Has(const google::protobuf::RepeatedPtrField<std::string>& list, const char* value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

constexpr char kBeforeSendCommand[] = "C2C.CallbackBeforeSendMsg";
constexpr char kAfterSendCommand[] = "C2C.CallbackAfterSendMsg";
constexpr char kBotCommand[] = "Bot.OnC2CMessage";
constexpr char kBotPrefix[] = "@RBT#";
constexpr int32_t kBlockedByCallback = 20006;
// After-send events gather this long into one batch (one unread-count query
// for all of them): nobody waits on them, and each query taken off the
// database leaves it to the sends (bench/message_bench.sh with a dead
// callback URL: p50 12.8 ms with a query per batch as it came, 10.8 without).
constexpr std::chrono::milliseconds kAfterSendLinger{20};

// Before-send callbacks of one SendFromClients call that may be under way at
// once: all of a gateway's call (at most 128 sends), so the call takes one
// callback time, within its deadline even when the backend answers only at
// the 2 s callback timeout.
constexpr size_t kParallelCallbacks = 128;

// Runs fn(0) .. fn(n - 1) on up to `workers` threads (this one included).
void ForEachInParallel(size_t n, size_t workers, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < n;) fn(i);
  };
  std::vector<std::thread> helpers;
  for (size_t w = 1; w < std::min(workers, n); ++w) helpers.emplace_back(work);
  work();
  for (auto& helper : helpers) helper.join();
}
constexpr int32_t kCallbackFailed = 80003;

std::string OptPlatform(const rpc::Caller& caller) {
  return callbacks::OptPlatform(caller.is_admin, caller.platform);
}

// The message fields every C2C callback carries (compat reference §6.3).
nlohmann::ordered_json C2CPayload(const SendJob& job, uint32_t msg_seq, const std::string& msg_key,
                                  int64_t msg_time, bool online_only) {
  nlohmann::ordered_json payload;
  payload["From_Account"] = job.from;
  payload["To_Account"] = job.to;
  payload["MsgSeq"] = msg_seq;
  payload["MsgRandom"] = job.random;
  payload["MsgTime"] = msg_time;
  payload["MsgKey"] = msg_key;
  payload["MsgId"] = msg_key;
  payload["OnlineOnlyFlag"] = online_only ? 1 : 0;
  payload["MsgBody"] = nlohmann::ordered_json::parse(job.body_json, nullptr, false);
  payload["CloudCustomData"] = job.cloud_custom_data;
  return payload;
}

}  // namespace

MessageLogic::MessageLogic(MessageStore* store, BatchWriter* writer, delivery::Deliverer* deliverer,
                           std::shared_ptr<v1::AuthService::StubInterface> auth,
                           SendPermission* permissions, Clock now)
    : store_(store),
      writer_(writer),
      deliverer_(deliverer),
      permissions_(permissions),
      now_(now),
      existence_(std::move(auth), now, "parley-message"),
      head_reads_(kMaxHeadReadsPerBatch,
                  [this](const std::vector<std::pair<uint64_t, std::string>>& users) {
                    auto heads = store_->TimelineHeads(users);
                    if (heads.ok() && heads->size() != users.size()) {
                      heads = absl::InternalError("timeline heads: a user is missing");
                    }
                    if (!heads.ok()) {
                      return std::vector<absl::StatusOr<uint64_t>>(users.size(), heads.status());
                    }
                    return std::vector<absl::StatusOr<uint64_t>>(heads->begin(), heads->end());
                  }),
      after_sends_(std::make_unique<batching::Batcher<AfterSendItem, bool>>(
          256, [this](const std::vector<AfterSendItem>& items) { return QueueAfterSends(items); },
          kAfterSendLinger)) {}

absl::Status MessageLogic::CheckPermission(const rpc::Caller& caller, const SendJob& job,
                                           int32_t* refused_code) {
  *refused_code = 0;
  if (!caller.is_admin && no_speaking_ != nullptr) {
    auto mute = no_speaking_->Get(caller.sdkappid, job.from);
    if (!mute.ok()) return errors::Error(kInternal, "could not read the sender's mute; retry");
    if (NoSpeakingNow(now_(), mute->c2c_until)) {
      *refused_code = kSenderNoSpeaking;
      return absl::OkStatus();
    }
  }
  auto code = permissions_->Check(caller.sdkappid, job.from, job.to, caller.is_admin);
  if (!code.ok()) {
    log::Error("send_permission_failed",
               {{"sdkappid", caller.sdkappid}, {"error", std::string(code.status().message())}});
    return errors::Error(kInternal, "the relationship service is unavailable; retry");
  }
  *refused_code = *code;
  return absl::OkStatus();
}

absl::StatusOr<SendJob> MessageLogic::PrepareJob(const rpc::Caller& caller,
                                                 const v1::SendC2CRequest& request,
                                                 bool* online_only) {
  SendJob job;
  job.sdkappid = caller.sdkappid;
  job.from = request.from_account().empty() ? caller.identifier : request.from_account();
  if (!caller.is_admin && job.from != caller.identifier) {
    return errors::Error(kSenderInvalid, "a user can only send as themselves");
  }
  if (!ValidUserId(job.from)) return errors::Error(kFromInvalid, "From_Account is invalid");
  job.to = request.to_account();
  if (!ValidUserId(job.to)) return errors::Error(kToInvalid, "To_Account is missing or invalid");
  if (request.has_msg_random()) {
    job.random = request.msg_random();
  } else if (caller.is_admin) {
    return errors::Error(kRandomMissing, "MsgRandom is missing");
  } else {
    job.random = RandomU32();
  }
  *online_only = false;
  if (request.has_msg_life_time()) {
    if (request.msg_life_time() < 0 || request.msg_life_time() > kMaxLifeTime) {
      return errors::Error(kLifeTimeTooLarge, "MsgLifeTime must be 0 to 604800");
    }
    *online_only = request.msg_life_time() == 0;
  }
  job.body_json = ToJson(request.msg_body());
  if (auto st = ValidateMsgBody(request.msg_body(),
                                job.body_json.size() + request.cloud_custom_data().size());
      !st.ok()) {
    return st;
  }
  job.cloud_custom_data = request.cloud_custom_data();
  if (request.has_offline_push_info()) job.offline_push_json = ToJson(request.offline_push_info());
  job.client_msg_id = request.client_msg_id();
  if (!request.client_msg_id().empty()) {
    job.dedup_key = "c:" + request.client_msg_id();
  } else if (request.has_msg_random()) {
    job.dedup_key = absl::StrCat("r:", request.msg_random());
  }
  job.msg_seq = request.msg_seq();
  job.time = caller.is_admin && request.msg_time_stamp() ? request.msg_time_stamp() : now_();
  job.store_for_sender = request.sync_other_machine() != 2;
  job.count_unread = !Has(request.send_msg_control(), "NoUnread");
  job.update_last_message = !Has(request.send_msg_control(), "NoLastMsg");
  job.honor_receive_opt =
      !caller.is_admin || Has(request.send_msg_control(), "WithMuteNotifications");
  return job;
}

namespace {

v1::TimelineEvent MessageEvent(const SendJob& job, uint64_t seq, const std::string& peer,
                               const std::string& msg_key, uint32_t msg_seq,
                               const v1::SendC2CRequest& request) {
  v1::TimelineEvent event;
  event.set_seq(seq);
  event.set_kind(v1::TimelineEvent::KIND_MESSAGE);
  event.set_peer(peer);
  event.set_msg_key(msg_key);
  event.set_event_time(static_cast<uint32_t>(job.time));
  auto* m = event.mutable_message();
  m->set_from_account(job.from);
  m->set_to_account(job.to);
  m->set_msg_seq(msg_seq);
  m->set_msg_random(job.random);
  m->set_msg_time_stamp(static_cast<uint32_t>(job.time));
  m->set_msg_key(msg_key);
  *m->mutable_msg_body() = request.msg_body();
  m->set_cloud_custom_data(job.cloud_custom_data);
  m->set_client_msg_id(job.client_msg_id);
  if (request.has_offline_push_info())
    *m->mutable_offline_push_info() = request.offline_push_info();
  return event;
}

}  // namespace

void MessageLogic::DeliverStored(uint64_t sdkappid, const SendResult& result) {
  for (const auto& delivery : result.deliveries) deliverer_->Enqueue(sdkappid, delivery, result.ticket);
}

uint32_t MessageLogic::TotalUnread(uint64_t sdkappid, const std::string& user) {
  // One summing query, as the after-send batches use.
  auto totals = store_->UnreadTotals({{sdkappid, user}});
  if (!totals.ok() || totals->size() != 1) {
    log::Warn("unread_total_unknown",
              {{"sdkappid", sdkappid},
               {"error", totals.ok() ? "no row" : std::string(totals.status().message())}});
    return 0;
  }
  return (*totals)[0];
}

absl::Status MessageLogic::BeforeSend(const rpc::Caller& caller, SendJob* job, bool online_only,
                                      const v1::SendC2CRequest& request,
                                      std::optional<v1::SendC2CRequest>* rewritten, bool* dropped) {
  *dropped = false;
  if (callbacks_ == nullptr ||
      Has(request.forbid_callback_control(), "ForbidBeforeSendMsgCallback") ||
      !callbacks_->Enabled(caller.sdkappid, kBeforeSendCommand)) {
    return absl::OkStatus();
  }
  v1::BeforeResponse verdict;
  if (callbacks_->EndpointDown(caller.sdkappid)) {
    // Known down: not asked, so no payload, and the message keeps the
    // identity storage gives it. The failure policy decides.
    verdict = callbacks_->Before(caller.sdkappid, kBeforeSendCommand, "", OptPlatform(caller),
                                 caller.client_ip);
  } else {
    // The backend sees the message's identity, so it is fixed now.
    if (job->msg_seq == 0) job->msg_seq = RandomU32();
    std::string msg_key = absl::StrCat(job->msg_seq, "_", job->random, "_", job->time);
    verdict = callbacks_->Before(
        caller.sdkappid, kBeforeSendCommand,
        C2CPayload(*job, job->msg_seq, msg_key, job->time, online_only).dump(),
        OptPlatform(caller), caller.client_ip);
  }
  if (verdict.verdict() == v1::BeforeResponse::DROP) {
    *dropped = true;
    return absl::OkStatus();
  }
  if (verdict.verdict() == v1::BeforeResponse::REJECT) {
    int32_t code = verdict.error_code();
    // 1 is the generic refusal; [120001, 130000] are the app's own codes.
    if (code != kCallbackFailed && (code < 120001 || code > 130000)) code = kBlockedByCallback;
    return errors::Error(code, verdict.error_info().empty()
                                   ? "the message was refused by the app's before-send callback"
                                   : verdict.error_info());
  }
  if (verdict.response_json().empty()) return absl::OkStatus();
  // The backend may replace MsgBody and CloudCustomData.
  auto answer = nlohmann::json::parse(verdict.response_json(), nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) return absl::OkStatus();
  v1::SendC2CRequest changed = request;
  if (auto body = answer.find("MsgBody"); body != answer.end() && body->is_array()) {
    if (!protojson::Parse(body->dump(), changed.mutable_msg_body(), {true}).ok()) {
      return absl::OkStatus();
    }
  }
  if (auto cloud = answer.find("CloudCustomData"); cloud != answer.end() && cloud->is_string()) {
    changed.set_cloud_custom_data(cloud->get<std::string>());
  }
  std::string body_json = ToJson(changed.msg_body());
  if (!ValidateMsgBody(changed.msg_body(), body_json.size() + changed.cloud_custom_data().size())
           .ok()) {
    log::Warn("callback_rewrite_ignored",
              {{"sdkappid", caller.sdkappid}, {"reason", "the rewritten message is invalid"}});
    return absl::OkStatus();
  }
  job->body_json = std::move(body_json);
  job->cloud_custom_data = changed.cloud_custom_data();
  *rewritten = std::move(changed);
  return absl::OkStatus();
}

std::vector<std::string> MessageLogic::AfterSendCommands(uint64_t sdkappid,
                                                         const std::string& to) {
  std::vector<std::string> commands;
  if (callbacks_ == nullptr) return commands;
  for (const char* command : {kAfterSendCommand, kBotCommand}) {
    if (command == std::string(kBotCommand) && to.rfind(kBotPrefix, 0) != 0) continue;
    if (callbacks_->Enabled(sdkappid, command)) commands.emplace_back(command);
  }
  return commands;
}

void MessageLogic::AfterSend(const SendJob& job, const std::string& msg_key, uint32_t msg_seq,
                             int64_t msg_time, bool online_only,
                             const std::vector<int64_t>& owed_ids) {
  if (callbacks_ == nullptr || job.after_commands.empty()) return;
  std::lock_guard lock(after_sends_mu_);
  if (!after_sends_) return;  // stopping: the outbox has them
  (void)after_sends_->Submit({{job, msg_key, msg_seq, msg_time, online_only, owed_ids}});
}

std::vector<bool> MessageLogic::QueueAfterSends(const std::vector<AfterSendItem>& items) {
  // One unread-count query for the whole batch, not one per event.
  std::vector<std::pair<uint64_t, std::string>> recipients;
  recipients.reserve(items.size());
  for (const auto& item : items) recipients.emplace_back(item.job.sdkappid, item.job.to);
  auto totals = store_->UnreadTotals(recipients);
  if (totals.ok() && totals->size() != items.size()) totals = absl::InternalError("unread totals");
  if (!totals.ok()) {
    // The events still go: a late callback is worse than a missing count.
    log::Warn("after_send_unread_unknown", {{"events", items.size()},
                                            {"error", std::string(totals.status().message())}});
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const AfterSendItem& item = items[i];
    auto payload = C2CPayload(item.job, item.msg_seq, item.msg_key, item.msg_time, item.online_only);
    payload["SendMsgResult"] = 0;
    payload["ErrorInfo"] = "";
    payload["UnreadMsgNum"] = totals.ok() ? (*totals)[i] : 0;
    std::string body = payload.dump();
    for (size_t c = 0; c < item.job.after_commands.size(); ++c) {
      std::function<void()> settled;
      if (c < item.owed_ids.size()) {
        settled = [this, id = item.owed_ids[c]] {
          std::lock_guard lock(settled_mu_);
          settled_ids_.push_back(id);
        };
      }
      callbacks_->After(item.job.sdkappid, item.job.after_commands[c], body,
                        item.job.opt_platform, item.job.client_ip, std::move(settled));
    }
  }
  return std::vector<bool>(items.size(), true);
}

MessageLogic::~MessageLogic() { DeleteSettledCallbacks(); }

void MessageLogic::DeleteSettledCallbacks() {
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(settled_mu_);
    ids.swap(settled_ids_);
  }
  // Rows left behind (PostgreSQL away) are queued again when due: the
  // callback then arrives twice, which at-least-once allows.
  for (size_t from = 0; from < ids.size(); from += 10000) {
    std::vector<int64_t> chunk(ids.begin() + from,
                               ids.begin() + std::min(ids.size(), from + 10000));
    (void)store_->SettleOwedCallbacks(chunk);
  }
}

void MessageLogic::StopAfterSends() {
  std::unique_ptr<batching::Batcher<AfterSendItem, bool>> stopping;
  {
    std::lock_guard lock(after_sends_mu_);
    stopping = std::move(after_sends_);
  }
  stopping.reset();  // queues what it holds, then stops
}

size_t MessageLogic::RequeueOwedCallbacks(size_t limit) {
  if (callbacks_ == nullptr) return 0;
  auto owed = store_->LeaseOwedCallbacks(limit, kOwedCallbackLease);
  if (!owed.ok()) {
    log::Warn("owed_callbacks_unreadable", {{"error", std::string(owed.status().message())}});
    return 0;
  }
  std::vector<int64_t> gone;
  for (auto& o : *owed) {
    if (!o.message_found) {
      gone.push_back(o.id);  // the message was deleted since: nothing to report
      continue;
    }
    o.job.after_commands = {o.command};
    AfterSend(o.job, o.msg_key, o.msg_seq, o.msg_time, false, {o.id});
  }
  (void)store_->SettleOwedCallbacks(gone);
  if (!owed->empty()) {
    metrics::Registry::Default()
        .GetCounter("parley_message_owed_callbacks_requeued_total",
                    "after-send callbacks queued again from the outbox")
        .Increment(owed->size());
  }
  return owed->size();
}

absl::StatusOr<std::optional<v1::SendC2CResponse>> MessageLogic::StageSend(
    const rpc::Caller& caller, const v1::SendC2CRequest& request, StagedSend* staged) {
  bool online_only = false;
  auto job = PrepareJob(caller, request, &online_only);
  if (!job.ok()) return job.status();
  std::vector<std::string> check = {job->to};
  if (caller.is_admin) check.push_back(job->from);
  auto existing = existence_.Existing(caller.sdkappid, check);
  if (!existing.ok()) return existing.status();
  if (!existing->count(job->to))
    return errors::Error(kToNotRegistered, "To_Account not registered");
  // A logged-in client exists by definition (login registers it).
  if (caller.is_admin && !existing->count(job->from)) {
    return errors::Error(kFromInvalid, "From_Account not registered");
  }
  int32_t refused = 0;
  if (auto st = CheckPermission(caller, *job, &refused); !st.ok()) return st;
  if (refused == kSendBlocked) {
    return errors::Error(refused, "the recipient has blocked the sender");
  }
  if (refused == kSenderNoSpeaking) {
    return errors::Error(refused, "the sender is muted for one-to-one messages");
  }
  if (refused != 0) {
    return errors::Error(refused, "the app only allows messages between friends");
  }
  std::optional<v1::SendC2CRequest> rewritten;
  bool dropped = false;
  if (auto st = BeforeSend(caller, &*job, online_only, request, &rewritten, &dropped); !st.ok()) {
    return st;
  }
  const v1::SendC2CRequest& sent = rewritten ? *rewritten : request;
  job->event = MessageEvent(*job, 0, job->from, "", 0, sent);
  if (!Has(request.forbid_callback_control(), "ForbidAfterSendMsgCallback")) {
    job->after_commands = AfterSendCommands(caller.sdkappid, job->to);
    job->opt_platform = OptPlatform(caller);
    job->client_ip = caller.client_ip;
  }

  if (online_only || dropped) {
    // Not stored: only sessions online now get it, with seq 0. A message the
    // app's callback dropped looks sent to the sender and reaches no one.
    uint32_t msg_seq = job->msg_seq ? job->msg_seq : RandomU32();
    std::string msg_key = absl::StrCat(msg_seq, "_", job->random, "_", job->time);
    if (!dropped) {
      deliverer_->Enqueue(caller.sdkappid, job->to,
                          MessageEvent(*job, 0, job->from, msg_key, msg_seq, sent));
      AfterSend(*job, msg_key, msg_seq, job->time, true, {});
    }
    v1::SendC2CResponse response;
    response.set_msg_time(static_cast<uint32_t>(job->time));
    response.set_msg_key(msg_key);
    response.set_msg_id(msg_key);
    response.set_msg_seq(msg_seq);
    return response;
  }
  staged->caller = &caller;
  staged->job = std::move(*job);
  staged->request = &request;
  staged->rewritten = std::move(rewritten);
  return std::nullopt;
}

absl::StatusOr<v1::SendC2CResponse> MessageLogic::FinishSend(
    const StagedSend& staged, const absl::StatusOr<SendResult>& stored) {
  const rpc::Caller& caller = *staged.caller;
  if (!stored.ok()) {
    log::Error("send_failed",
               {{"sdkappid", caller.sdkappid}, {"error", std::string(stored.status().message())}});
    return errors::Error(kInternal,
                         "the message could not be stored; retry with the same MsgRandom");
  }
  const SendResult& result = *stored;
  if (!result.duplicate) {
    DeliverStored(caller.sdkappid, result);
    AfterSend(staged.job, result.msg_key, result.msg_seq, result.msg_time, false,
              result.owed_callback_ids);
  }
  v1::SendC2CResponse response;
  response.set_msg_time(static_cast<uint32_t>(result.msg_time));
  response.set_msg_key(result.msg_key);
  response.set_msg_id(result.msg_key);
  response.set_msg_seq(result.msg_seq);
  response.set_sender_seq(result.sender_seq);
  response.set_duplicate(result.duplicate);
  return response;
}

absl::StatusOr<v1::SendC2CResponse> MessageLogic::SendC2C(const rpc::Caller& caller,
                                                          const v1::SendC2CRequest& request) {
  StagedSend staged;
  auto answered = StageSend(caller, request, &staged);
  if (!answered.ok()) return answered.status();
  if (answered->has_value()) return std::move(**answered);
  auto results = writer_->Submit({staged.job}).get();
  return FinishSend(staged, results[0]);
}

absl::StatusOr<v1::SendFromClientsResponse> MessageLogic::SendFromClients(
    const rpc::Caller& caller, const v1::SendFromClientsRequest& request) {
  if (!caller.is_service) return errors::Error(90009, "internal callers only");
  const int count = request.sends_size();
  // Each send acts for its own logged-in user, never as an admin.
  std::vector<rpc::Caller> senders(count);
  std::vector<StagedSend> staged(count);
  std::vector<absl::StatusOr<v1::SendC2CResponse>> answers(count, v1::SendC2CResponse());
  std::vector<char> to_store(count, 0);
  auto stage = [&](size_t i) {
    const auto& send = request.sends(static_cast<int>(i));
    senders[i] = {caller.sdkappid, send.user_id(), false, send.platform(), send.client_ip()};
    auto answered = StageSend(senders[i], send.request(), &staged[i]);
    if (!answered.ok()) {
      answers[i] = answered.status();
    } else if (answered->has_value()) {
      answers[i] = std::move(**answered);
    } else {
      to_store[i] = 1;
    }
  };
  // Checks are cached and quick; a before-send callback is a round trip to
  // the app's backend, so those calls overlap rather than queue (unless the
  // backend is known to be down: then nothing is asked).
  bool asks_backend = callbacks_ != nullptr &&
                      callbacks_->Enabled(caller.sdkappid, kBeforeSendCommand) &&
                      !callbacks_->EndpointDown(caller.sdkappid);
  ForEachInParallel(count, asks_backend ? kParallelCallbacks : 1, stage);
  std::vector<SendJob> jobs;
  std::vector<int> job_owner;
  for (int i = 0; i < count; ++i) {
    if (!to_store[i]) continue;
    jobs.push_back(staged[i].job);
    job_owner.push_back(i);
  }
  if (!jobs.empty()) {
    // One submission: the writer stores them in one transaction, in this order.
    auto results = writer_->Submit(std::move(jobs)).get();
    for (size_t j = 0; j < results.size(); ++j) {
      answers[job_owner[j]] = FinishSend(staged[job_owner[j]], results[j]);
    }
  }
  v1::SendFromClientsResponse response;
  for (auto& answer : answers) {
    auto* outcome = response.add_outcomes();
    if (answer.ok()) {
      *outcome->mutable_response() = std::move(*answer);
    } else {
      outcome->set_error_code(errors::TencentCode(answer.status(), kInternal));
      outcome->set_error_info(errors::InfoOf(answer.status()));
    }
  }
  return response;
}

absl::StatusOr<v1::BatchSendC2CResponse> MessageLogic::BatchSendC2C(
    const rpc::Caller& caller, const v1::BatchSendC2CRequest& request) {
  if (request.to_account().kind_case() != google::protobuf::Value::kListValue) {
    return errors::Error(kBatchToNotArray, "To_Account must be an array");
  }
  const auto& targets = request.to_account().list_value().values();
  if (targets.empty()) return errors::Error(kBatchToEmpty, "To_Account is empty");
  if (static_cast<size_t>(targets.size()) > kMaxBatchTargets) {
    return errors::Error(kTooManyTargets, "To_Account has more than 500 accounts");
  }
  v1::SendC2CRequest one;
  one.set_sync_other_machine(request.sync_other_machine());
  one.set_from_account(request.from_account());
  if (request.has_msg_life_time()) one.set_msg_life_time(request.msg_life_time());
  // One MsgKey for all recipients: the same MsgSeq, random and time.
  one.set_msg_seq(request.msg_seq() ? request.msg_seq() : RandomU32());
  if (request.has_msg_random()) one.set_msg_random(request.msg_random());
  *one.mutable_msg_body() = request.msg_body();
  one.set_cloud_custom_data(request.cloud_custom_data());
  *one.mutable_send_msg_control() = request.send_msg_control();
  if (request.has_offline_push_info())
    *one.mutable_offline_push_info() = request.offline_push_info();

  v1::BatchSendC2CResponse response;
  std::vector<std::string> users;
  for (const auto& target : targets) {
    if (target.kind_case() != google::protobuf::Value::kStringValue) {
      return errors::Error(kBatchToNotArray, "To_Account must be an array of strings");
    }
    users.push_back(target.string_value());
  }
  std::string from = request.from_account().empty() ? caller.identifier : request.from_account();
  users.push_back(from);
  auto existing = existence_.Existing(caller.sdkappid, users);
  if (!existing.ok()) return existing.status();
  users.pop_back();
  if (!existing->count(from)) return errors::Error(kFromInvalid, "From_Account not registered");

  std::vector<SendJob> jobs;
  std::vector<std::string> job_targets;
  bool online_only = false;
  for (const auto& user : users) {
    one.set_to_account(user);
    auto job = PrepareJob(caller, one, &online_only);
    if (!job.ok()) {
      int32_t code = errors::TencentCode(job.status(), kInternal);
      if (code != kToInvalid) return job.status();  // the message itself is bad
      auto* error = response.add_error_list();
      error->set_to_account(user);
      error->set_error_code(code);
      continue;
    }
    int32_t refused = existing->count(user) ? 0 : kToNotRegistered;
    if (refused == 0) {
      if (auto st = CheckPermission(caller, *job, &refused); !st.ok()) return st;
    }
    if (refused != 0) {
      auto* error = response.add_error_list();
      error->set_to_account(user);
      error->set_error_code(refused);
      continue;
    }
    if (response.msg_key().empty()) {
      response.set_msg_key(absl::StrCat(one.msg_seq(), "_", job->random, "_", job->time));
      response.set_msg_id(response.msg_key());
    }
    job->event = MessageEvent(*job, 0, job->from, "", 0, one);
    jobs.push_back(std::move(*job));
  }
  if (online_only) {
    for (const auto& job : jobs) {
      one.set_to_account(job.to);
      deliverer_->Enqueue(caller.sdkappid, job.to,
                          MessageEvent(job, 0, job.from, response.msg_key(), one.msg_seq(), one));
    }
    return response;
  }
  auto results = writer_->Submit(jobs).get();
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!results[i].ok()) {
      auto* error = response.add_error_list();
      error->set_to_account(jobs[i].to);
      error->set_error_code(kInternal);
      continue;
    }
    if (!results[i]->duplicate) DeliverStored(caller.sdkappid, *results[i]);
  }
  return response;
}

absl::StatusOr<v1::SyncResponse> MessageLogic::Sync(const rpc::Caller& caller,
                                                    const v1::SyncRequest& request) {
  uint32_t limit =
      request.limit() == 0 || request.limit() > kMaxSyncPage ? kMaxSyncPage : request.limit();
  auto head = head_reads_.Submit({{caller.sdkappid, caller.identifier}}).get().at(0);
  if (!head.ok()) return head.status();
  return store_->SyncUpTo(caller.sdkappid, caller.identifier, request.after_seq(), *head, limit);
}

absl::StatusOr<v1::GetTimelineHeadsResponse> MessageLogic::GetTimelineHeads(
    const rpc::Caller& caller, const v1::GetTimelineHeadsRequest& request) {
  if (!caller.is_service) return errors::Error(90009, "internal callers only");
  if (request.user_ids_size() > kMaxHeadsPerCall) {
    return errors::Error(kOpenimBadJson, absl::StrCat("at most ", kMaxHeadsPerCall, " users"));
  }
  std::vector<std::pair<uint64_t, std::string>> users;
  for (const auto& user_id : request.user_ids()) users.emplace_back(caller.sdkappid, user_id);
  auto heads = store_->TimelineHeads(users);
  if (!heads.ok()) return heads.status();
  v1::GetTimelineHeadsResponse response;
  response.mutable_max_seqs()->Add(heads->begin(), heads->end());
  return response;
}

// The user an operation acts for: admins name one (`code` when it is
// invalid); users always act for themselves.
static absl::StatusOr<std::string> ActingUser(const rpc::Caller& caller,
                                              const std::string& requested, int32_t code) {
  if (!caller.is_admin) return caller.identifier;
  if (!ValidUserId(requested)) return errors::Error(code, "the account is missing or invalid");
  return requested;
}

absl::StatusOr<StoredMessage> MessageLogic::OwnMessage(const rpc::Caller& caller,
                                                       const std::string& from,
                                                       const std::string& to,
                                                       const std::string& msg_key) {
  auto sender = ActingUser(caller, from, kFromInvalid);
  if (!sender.ok()) return sender.status();
  if (!ValidUserId(to)) return errors::Error(kToInvalid, "To_Account is missing or invalid");
  auto found = store_->FindMessage(caller.sdkappid, *sender, to, msg_key);
  if (!found.ok()) return found.status();
  if (!found->has_value()) return errors::Error(kMessageNotFound, "message not found");
  if ((*found)->from != *sender) {
    return errors::Error(kSenderInvalid, "only the sender can change a message");
  }
  if ((*found)->recalled) return errors::Error(kAlreadyRecalled, "message already recalled");
  return **found;
}

void MessageLogic::DeliverChange(uint64_t sdkappid, const StoredMessage& message,
                                 const ChangeSeqs& seqs, v1::TimelineEvent::Kind kind,
                                 const std::string& msg_key, const v1::C2CMessage* content) {
  for (const auto& [user, peer, seq] : {std::tuple{message.to, message.from, seqs.to_seq},
                                        std::tuple{message.from, message.to, seqs.from_seq}}) {
    if (seq == 0) continue;
    v1::TimelineEvent event;
    event.set_seq(seq);
    event.set_kind(kind);
    event.set_peer(peer);
    event.set_msg_key(msg_key);
    event.set_event_time(static_cast<uint32_t>(seqs.time));
    if (content) *event.mutable_message() = *content;
    deliverer_->Enqueue(sdkappid, user, event);
  }
}

absl::StatusOr<v1::RecallResponse> MessageLogic::Recall(const rpc::Caller& caller,
                                                        const v1::RecallRequest& request) {
  auto message =
      OwnMessage(caller, request.from_account(), request.to_account(), request.msg_key());
  if (!message.ok()) return message.status();
  int64_t now = now_();
  if (!caller.is_admin && now - message->time > kUserRecallWindowSeconds) {
    return errors::Error(kRecallTooLate, "messages can be recalled within 2 minutes");
  }
  auto seqs = store_->Recall(caller.sdkappid, *message, request.msg_key(), now);
  if (!seqs.ok()) {
    if (seqs.status().code() == absl::StatusCode::kFailedPrecondition) {
      return errors::Error(kAlreadyRecalled, "message already recalled");
    }
    return seqs.status();
  }
  DeliverChange(caller.sdkappid, *message, *seqs, v1::TimelineEvent::KIND_RECALL, request.msg_key(),
                nullptr);
  if (callbacks_) {
    callbacks_->After(
        caller.sdkappid, "C2C.CallbackAfterMsgWithDraw",
        [this, app = caller.sdkappid, from = message->from, to = message->to,
         key = request.msg_key()] {
          nlohmann::ordered_json payload = {{"From_Account", from},
                                            {"To_Account", to},
                                            {"MsgKey", key},
                                            {"UnreadMsgNum", TotalUnread(app, to)}};
          return payload.dump();
        },
        OptPlatform(caller), caller.client_ip);
  }
  return v1::RecallResponse();
}

absl::StatusOr<v1::ModifyResponse> MessageLogic::Modify(const rpc::Caller& caller,
                                                        const v1::ModifyRequest& request) {
  std::string body_json = ToJson(request.msg_body());
  if (auto st = ValidateMsgBody(request.msg_body(),
                                body_json.size() + request.cloud_custom_data().size());
      !st.ok()) {
    return st;
  }
  auto message =
      OwnMessage(caller, request.from_account(), request.to_account(), request.msg_key());
  if (!message.ok()) return message.status();
  std::optional<std::string> cloud;
  if (request.has_cloud_custom_data()) cloud = request.cloud_custom_data();
  auto seqs =
      store_->Modify(caller.sdkappid, *message, request.msg_key(), body_json, cloud, now_());
  if (!seqs.ok()) return seqs.status();
  v1::C2CMessage content;
  content.set_from_account(message->from);
  content.set_to_account(message->to);
  content.set_msg_key(request.msg_key());
  content.set_msg_time_stamp(static_cast<uint32_t>(message->time));
  *content.mutable_msg_body() = request.msg_body();
  if (cloud) content.set_cloud_custom_data(*cloud);
  DeliverChange(caller.sdkappid, *message, *seqs, v1::TimelineEvent::KIND_EDIT, request.msg_key(),
                &content);
  return v1::ModifyResponse();
}

absl::StatusOr<v1::DeleteForOwnerResponse> MessageLogic::DeleteForOwner(
    const rpc::Caller& caller, const v1::DeleteForOwnerRequest& request) {
  auto owner = ActingUser(caller, request.operator_account(), kFromInvalid);
  if (!owner.ok()) return owner.status();
  if (!ValidUserId(request.peer_account())) {
    return errors::Error(kToInvalid, "Peer_Account is missing or invalid");
  }
  if (request.msg_key_list_size() == 0) return errors::Error(kOpenimBadJson, "MsgKeyList is empty");
  std::vector<std::string> keys(request.msg_key_list().begin(), request.msg_key_list().end());
  auto invalid = store_->DeleteForOwner(caller.sdkappid, *owner, request.peer_account(), keys);
  if (!invalid.ok()) return invalid.status();
  v1::DeleteForOwnerResponse response;
  for (const auto& key : *invalid) response.add_invalid_msg_key_list(key);
  return response;
}

absl::StatusOr<v1::MarkReadResponse> MessageLogic::MarkRead(const rpc::Caller& caller,
                                                            const v1::MarkReadRequest& request) {
  auto owner = ActingUser(caller, request.report_account(), kFromInvalid);
  if (!owner.ok()) return owner.status();
  if (!ValidUserId(request.peer_account()) || request.peer_account() == *owner) {
    return errors::Error(kToInvalid, "Peer_Account is missing or invalid");
  }
  int64_t read_time = request.msg_read_time() ? request.msg_read_time() : now_();
  auto seqs = store_->MarkRead(caller.sdkappid, *owner, request.peer_account(), read_time);
  if (!seqs.ok()) return seqs.status();
  // The reader's own devices learn of it too: their unread counts follow.
  v1::TimelineEvent own;
  own.set_seq(seqs->second);
  own.set_kind(v1::TimelineEvent::KIND_READ);
  own.set_peer(request.peer_account());
  own.set_read_time(static_cast<uint32_t>(read_time));
  own.set_event_time(static_cast<uint32_t>(read_time));
  deliverer_->Enqueue(caller.sdkappid, *owner, own);
  v1::TimelineEvent receipt;
  receipt.set_seq(seqs->first);
  receipt.set_kind(v1::TimelineEvent::KIND_READ_RECEIPT);
  receipt.set_peer(*owner);
  receipt.set_read_time(static_cast<uint32_t>(read_time));
  receipt.set_event_time(static_cast<uint32_t>(read_time));
  deliverer_->Enqueue(caller.sdkappid, request.peer_account(), receipt);
  if (callbacks_) {
    callbacks_->After(
        caller.sdkappid, "C2C.CallbackAfterMsgReport",
        [this, app = caller.sdkappid, reader = *owner, peer = request.peer_account(), read_time] {
          nlohmann::ordered_json payload = {{"Report_Account", reader},
                                            {"Peer_Account", peer},
                                            {"LastReadTime", read_time},
                                            {"UnreadMsgNum", TotalUnread(app, reader)}};
          return payload.dump();
        },
        OptPlatform(caller), caller.client_ip);
  }
  return v1::MarkReadResponse();
}

absl::StatusOr<v1::GetBadgesResponse> MessageLogic::GetBadges(const rpc::Caller& caller,
                                                              const v1::GetBadgesRequest& request) {
  if (!caller.is_service) return errors::Error(kNeedsAdmin, "internal callers only");
  if (request.user_ids_size() > 1000) return errors::Error(kTooManyTargets, "at most 1000 users");
  auto totals = store_->BadgeTotals(caller.sdkappid,
                                    {request.user_ids().begin(), request.user_ids().end()});
  if (!totals.ok()) return totals.status();
  v1::GetBadgesResponse response;
  for (uint32_t total : *totals) response.add_badges(total);
  return response;
}

absl::StatusOr<v1::GetUnreadResponse> MessageLogic::GetUnread(const rpc::Caller& caller,
                                                              const v1::GetUnreadRequest& request) {
  auto owner = ActingUser(caller, request.to_account(), kToInvalid);
  if (!owner.ok()) return owner.status();
  v1::GetUnreadResponse response;
  std::vector<std::string> peers;
  for (const auto& peer : request.peer_account()) {
    if (ValidUserId(peer)) {
      peers.push_back(peer);
    } else {
      auto* error = response.add_error_list();
      error->set_peer_account(peer);
      error->set_error_code(kToInvalid);
    }
  }
  auto counts = store_->Unread(caller.sdkappid, *owner, peers);
  if (!counts.ok()) return counts.status();
  std::map<std::string, uint32_t> by_peer(counts->begin(), counts->end());
  uint32_t total = 0;
  if (request.peer_account_size() == 0) {
    for (const auto& [peer, n] : by_peer) {
      auto* item = response.add_c2c_unread_msg_num_list();
      item->set_peer_account(peer);
      item->set_c2c_unread_msg_num(n);
      total += n;
    }
  } else {
    for (const auto& peer : peers) {
      auto* item = response.add_c2c_unread_msg_num_list();
      item->set_peer_account(peer);
      item->set_c2c_unread_msg_num(by_peer[peer]);
    }
    auto all = store_->Unread(caller.sdkappid, *owner, {});
    if (!all.ok()) return all.status();
    for (const auto& [peer, n] : *all) total += n;
  }
  response.set_all_c2c_unread_msg_num(total);
  return response;
}

absl::StatusOr<v1::GetRoamMessagesResponse> MessageLogic::GetRoamMessages(
    const rpc::Caller& caller, const v1::GetRoamMessagesRequest& request) {
  const std::string& requested_owner =
      request.operator_account().empty() ? request.from_account() : request.operator_account();
  const std::string& peer =
      request.peer_account().empty() ? request.to_account() : request.peer_account();
  auto owner = ActingUser(caller, requested_owner, kFromInvalid);
  if (!owner.ok()) return owner.status();
  if (!ValidUserId(peer)) return errors::Error(kToInvalid, "Peer_Account is missing or invalid");
  uint32_t max_cnt =
      request.max_cnt() == 0 ? kDefaultRoamPage : std::min(request.max_cnt(), kMaxRoamPage);
  int64_t max_time = request.max_time() ? request.max_time() : now_();
  if (request.min_time() > max_time)
    return errors::Error(kOpenimBadJson, "MinTime is after MaxTime");
  auto messages = store_->Roam(caller.sdkappid, *owner, peer, max_cnt, request.min_time(), max_time,
                               request.last_msg_key());
  if (!messages.ok()) return messages.status();
  v1::GetRoamMessagesResponse response;
  bool more = messages->size() > max_cnt;
  if (more) messages->pop_back();
  response.set_complete(more ? 0 : 1);
  response.set_msg_cnt(static_cast<uint32_t>(messages->size()));
  if (!messages->empty()) {
    response.set_last_msg_time(messages->back().msg_time_stamp());
    response.set_last_msg_key(messages->back().msg_key());
  }
  for (auto& m : *messages) *response.add_msg_list() = std::move(m);
  return response;
}

absl::StatusOr<v1::ImportC2CResponse> MessageLogic::ImportC2C(const rpc::Caller& caller,
                                                              const v1::ImportC2CRequest& request) {
  if (!caller.is_admin) return errors::Error(90009, "requires an app admin");
  if (request.sync_from_old_system() != 1 && request.sync_from_old_system() != 2) {
    return errors::Error(90030, "SyncFromOldSystem must be 1 or 2");
  }
  if (!request.has_msg_random()) return errors::Error(kRandomMissing, "MsgRandom is missing");
  if (request.msg_time_stamp() == 0) return errors::Error(90006, "MsgTimeStamp is missing");
  v1::SendC2CRequest as_send;
  as_send.set_from_account(request.from_account());
  as_send.set_to_account(request.to_account());
  as_send.set_msg_seq(request.msg_seq() ? request.msg_seq() : 1);
  as_send.set_msg_random(request.msg_random());
  as_send.set_msg_time_stamp(request.msg_time_stamp());
  *as_send.mutable_msg_body() = request.msg_body();
  as_send.set_cloud_custom_data(request.cloud_custom_data());
  bool online_only = false;
  auto job = PrepareJob(caller, as_send, &online_only);
  if (!job.ok()) return job.status();
  auto existing = existence_.Existing(caller.sdkappid, {job->from, job->to});
  if (!existing.ok()) return existing.status();
  if (!existing->count(job->from))
    return errors::Error(kFromInvalid, "From_Account not registered");
  if (!existing->count(job->to))
    return errors::Error(kToNotRegistered, "To_Account not registered");
  job->dedup_key.clear();  // import dedups by (MsgSeq, MsgRandom, MsgTimeStamp)
  job->count_unread = request.sync_from_old_system() == 1;
  auto duplicate = store_->Import(*job);
  if (!duplicate.ok()) return duplicate.status();
  return v1::ImportC2CResponse();
}

absl::StatusOr<v1::GetConversationsResponse> MessageLogic::GetConversations(
    const rpc::Caller& caller, const v1::GetConversationsRequest& request) {
  if (!caller.is_admin) {
    // Clients read their own list.
  } else if (!ValidUserId(request.from_account())) {
    return errors::Error(kConversationBadParam, "From_Account is missing or invalid");
  }
  std::string owner = caller.is_admin ? request.from_account() : caller.identifier;
  auto items =
      store_->Conversations(caller.sdkappid, owner, request.start_index(), kConversationPage + 1);
  if (!items.ok()) return items.status();
  v1::GetConversationsResponse response;
  bool more = items->size() > kConversationPage;
  if (more) items->pop_back();
  for (auto& item : *items) *response.add_session_item() = std::move(item);
  response.set_complete_flag(more ? 0 : 1);
  response.set_start_index(more ? request.start_index() + kConversationPage : 0);
  return response;
}

absl::StatusOr<v1::DeleteConversationResponse> MessageLogic::DeleteConversation(
    const rpc::Caller& caller, const v1::DeleteConversationRequest& request) {
  std::string owner = caller.is_admin ? request.from_account() : caller.identifier;
  if (request.type() == 2 && groups_ != nullptr) {
    const std::string& group =
        request.to_groupid().empty() ? request.to_account() : request.to_groupid();
    if (!ValidUserId(owner) || group.empty() || group.size() > 96) {
      return errors::Error(kConversationBadParam, "From_Account and ToGroupid are required");
    }
    // The conversation goes until the group's next message; the history
    // stays (group history is the group's, not the member's).
    absl::Status st = groups_->HideConversation(caller.sdkappid, owner, group);
    if (absl::IsNotFound(st)) {
      return errors::Error(kConversationBadParam, "From_Account is not a member of the group");
    }
    if (!st.ok()) return st;
    return v1::DeleteConversationResponse();
  }
  if (!ValidUserId(owner) || !ValidUserId(request.to_account())) {
    return errors::Error(kConversationBadParam, "From_Account and To_Account are required");
  }
  if (request.type() != 1) {
    return errors::Error(kConversationBadParam, "Type must be 1 (C2C) or 2 (group)");
  }
  if (auto st = store_->DeleteConversation(caller.sdkappid, owner, request.to_account(),
                                           request.clear_ramble() == 1);
      !st.ok()) {
    return st;
  }
  return v1::DeleteConversationResponse();
}

absl::StatusOr<v1::PinConversationResponse> MessageLogic::PinConversation(
    const rpc::Caller& caller, const v1::PinConversationRequest& request) {
  std::string owner = caller.is_admin ? request.from_account() : caller.identifier;
  if (!ValidUserId(owner) || !ValidUserId(request.to_account()) || owner == request.to_account()) {
    return errors::Error(kConversationBadParam, "From_Account and To_Account are required");
  }
  absl::Status st = store_->PinConversation(caller.sdkappid, owner, request.to_account(),
                                            request.pinned(), kMaxPinned);
  if (st.code() == absl::StatusCode::kFailedPrecondition) {
    return errors::Error(kTooManyPinned, "at most 50 conversations can be pinned");
  }
  if (!st.ok()) return st;
  return v1::PinConversationResponse();
}

absl::StatusOr<v1::TopConversationsResponse> MessageLogic::TopConversations(
    const rpc::Caller& caller, const v1::TopConversationsRequest& request) {
  std::string owner = caller.is_admin ? request.from_account() : caller.identifier;
  if (!ValidUserId(owner)) return errors::Error(kConversationBadParam, "From_Account is required");
  if (request.operation_type() != 1 && request.operation_type() != 2) {
    return errors::Error(kConversationBadParam, "OperationType must be 1 (pin) or 2 (unpin)");
  }
  if (request.recent_contact_item().empty()) {
    return errors::Error(kConversationBadParam, "RecentContactItem is empty");
  }
  // Every item is checked before any is applied.
  for (const auto& item : request.recent_contact_item()) {
    if (item.type() == 2 && groups_ != nullptr) {
      if (item.group_id().empty() || item.group_id().size() > 96) {
        return errors::Error(kConversationBadParam, "a Type 2 RecentContactItem needs GroupId");
      }
      continue;
    }
    if (item.type() != 1 || !ValidUserId(item.to_account()) || item.to_account() == owner) {
      return errors::Error(kConversationBadParam,
                           "each RecentContactItem needs Type 1 and another user's To_Account, "
                           "or Type 2 and a GroupId");
    }
  }
  for (const auto& item : request.recent_contact_item()) {
    bool pin = request.operation_type() == 1;
    absl::Status st =
        item.type() == 2
            ? groups_->PinConversation(caller.sdkappid, owner, item.group_id(), pin, kMaxPinned)
            : store_->PinConversation(caller.sdkappid, owner, item.to_account(), pin, kMaxPinned);
    if (absl::IsNotFound(st)) {
      return errors::Error(kConversationBadParam, "From_Account is not a member of the group");
    }
    if (st.code() == absl::StatusCode::kFailedPrecondition) {
      return errors::Error(kTooManyPinned, "at most 50 conversations can be pinned");
    }
    if (!st.ok()) return st;
  }
  return v1::TopConversationsResponse();
}

grpc::Status MessageGrpcService::SendC2C(grpc::ServerContext* context,
                                         const v1::SendC2CRequest* request,
                                         v1::SendC2CResponse* response) {
  return rpc::ServeAsCaller(context, request, response,
                            [&](const auto& c, const auto& r) { return logic_->SendC2C(c, r); });
}

grpc::Status MessageGrpcService::SendFromClients(grpc::ServerContext* context,
                                                 const v1::SendFromClientsRequest* request,
                                                 v1::SendFromClientsResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->SendFromClients(c, r);
  });
}

grpc::Status MessageGrpcService::BatchSendC2C(grpc::ServerContext* context,
                                              const v1::BatchSendC2CRequest* request,
                                              v1::BatchSendC2CResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->BatchSendC2C(c, r);
  });
}

grpc::Status MessageGrpcService::Sync(grpc::ServerContext* context, const v1::SyncRequest* request,
                                      v1::SyncResponse* response) {
  return rpc::ServeAsCaller(context, request, response,
                            [&](const auto& c, const auto& r) { return logic_->Sync(c, r); });
}

absl::StatusOr<v1::NoSpeakingEmpty> MessageLogic::SetNoSpeaking(
    const rpc::Caller& caller, const v1::SetNoSpeakingRequest& request) {
  if (!caller.is_admin) return errors::Error(90009, "app admins only");
  if (!ValidUserId(request.set_account())) {
    return errors::Error(90001, "Set_Account is missing or invalid");
  }
  if (!request.has_c2c_msg_nospeaking_time() && !request.has_group_msg_nospeaking_time()) {
    return errors::Error(90001, "give C2CmsgNospeakingTime or GroupmsgNospeakingTime");
  }
  auto existing = ExistingAccounts(caller.sdkappid, {request.set_account()});
  if (!existing.ok()) return errors::Error(kInternal, "could not check the account; retry");
  if (!existing->count(request.set_account())) {
    return errors::Error(kToNotRegistered, "Set_Account is not an imported account");
  }
  int64_t now = now_();
  std::optional<int64_t> c2c, group;
  if (request.has_c2c_msg_nospeaking_time()) {
    c2c = NoSpeakingUntil(now, request.c2c_msg_nospeaking_time());
  }
  if (request.has_group_msg_nospeaking_time()) {
    group = NoSpeakingUntil(now, request.group_msg_nospeaking_time());
  }
  if (auto st = store_->SetNoSpeaking(caller.sdkappid, request.set_account(), c2c, group);
      !st.ok()) {
    return errors::Error(kInternal, "storage failed; retry");
  }
  std::string announcement = NoSpeakingCache::Announcement(caller.sdkappid, request.set_account());
  // This replica forgets its copy before answering, so the caller's next
  // send here sees the change; the others hear it on the channel.
  if (no_speaking_ != nullptr) no_speaking_->OnChange(announcement);
  if (announce_no_speaking_) announce_no_speaking_(announcement);
  return v1::NoSpeakingEmpty();
}

absl::StatusOr<v1::GetNoSpeakingResponse> MessageLogic::GetNoSpeaking(
    const rpc::Caller& caller, const v1::GetNoSpeakingRequest& request) {
  if (!caller.is_admin) return errors::Error(90009, "app admins only");
  if (!ValidUserId(request.get_account())) {
    return errors::Error(90001, "Get_Account is missing or invalid");
  }
  auto mute = store_->GetNoSpeaking(caller.sdkappid, request.get_account());
  if (!mute.ok()) return errors::Error(kInternal, "storage failed; retry");
  int64_t now = now_();
  v1::GetNoSpeakingResponse response;
  response.set_c2c_msg_nospeaking_time(NoSpeakingLeft(now, mute->c2c_until));
  response.set_group_msg_nospeaking_time(NoSpeakingLeft(now, mute->group_until));
  return response;
}

}  // namespace parley::message
