#include "push_queue.h"

#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/redis/streams.h"
#include "all_member_rules.h"
#include "push_rules.h"

namespace parley::push {
namespace {

metrics::Counter& Sent(const std::string& channel) {
  return metrics::Registry::Default().GetCounter(
      "parley_push_vendor_sent_total", "notifications a vendor accepted", {{"channel", channel}});
}

metrics::Counter& Failed(const std::string& channel, const std::string& reason) {
  return metrics::Registry::Default().GetCounter("parley_push_vendor_failed_total",
                                                 "vendor sends that failed, by reason",
                                                 {{"channel", channel}, {"reason", reason}});
}

metrics::Histogram& Latency(const std::string& channel) {
  return metrics::Registry::Default().GetHistogram(
      "parley_push_vendor_seconds", "time of one vendor request", {{"channel", channel}});
}

// Result codes of Push.OfflinePush (docs/callbacks.md).
constexpr int32_t kPushOk = 0;
constexpr int32_t kPushInvalidToken = 1;
constexpr int32_t kPushRejected = 2;
constexpr int32_t kPushNoCredential = 3;
constexpr int32_t kPushGaveUp = 4;

// ApnsInfo.BadgeMode 1: the notification carries no badge.
bool NoBadge(const v1::Notification& notification) {
  auto mode = notification.apns_info().fields().find("BadgeMode");
  return mode != notification.apns_info().fields().end() && mode->second.number_value() == 1;
}

}  // namespace

std::string QueueStream(const std::string& prefix) { return prefix + ":queue"; }

absl::Status EnqueueJobs(redis::Pool& redis, const std::string& stream,
                         const std::vector<v1::PushJob>& jobs) {
  if (jobs.empty()) return absl::OkStatus();
  std::vector<std::vector<std::string>> commands;
  commands.reserve(jobs.size());
  for (const auto& job : jobs) {
    commands.push_back({"XADD", stream, "*", "m", job.SerializeAsString()});
  }
  auto replies = redis.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  for (const auto& reply : *replies) {
    if (!reply.ok()) return reply.status();
  }
  return absl::OkStatus();
}

PushQueue::PushQueue(redis::Pool* redis, redis::PoolOptions reader_options,
                     CredentialStore* credentials, ReceiveOptStore* receive_opts,
                     const VendorHttp* http,
                     std::map<std::string, std::unique_ptr<Vendor>> vendors, BadgeSource* badges,
                     MemberSource* members, callbacks::CallbackClient* callbacks, PushQueueOptions options)
    : redis_(redis),
      reader_options_(std::move(reader_options)),
      credentials_(credentials),
      receive_opts_(receive_opts),
      http_(http),
      vendors_(std::move(vendors)),
      badges_(badges),
      members_(members),
      callbacks_(callbacks),
      options_(std::move(options)),
      presence_(redis),
      devices_(redis),
      queue_(QueueStream(options_.key_prefix)),
      retry_(options_.key_prefix + ":retry"),
      dead_(options_.key_prefix + ":dead") {
  reader_options_.size = 1;
  reader_options_.timeout = std::chrono::seconds(5);  // longer than the 1 s BLOCK
}

PushQueue::~PushQueue() {
  running_ = false;
  for (auto& t : threads_) t.join();
}

void PushQueue::Start() {
  if (auto st = redis::EnsureGroup(*redis_, queue_, kConsumerGroup, "0"); !st.ok()) {
    log::Warn("push_group_not_created", {{"error", std::string(st.message())}});
  }
  running_ = true;
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this, i] { Work(i); });
  threads_.emplace_back([this] { MoveRetries(); });
  threads_.emplace_back([this] { Trim(); });
}

void PushQueue::Work(int index) {
  std::string consumer = absl::StrCat(options_.consumer, "-w", index);
  std::unique_ptr<redis::Pool> reader;
  auto last_claim = std::chrono::steady_clock::now();
  while (running_) {
    if (!reader) {
      auto pool = redis::Pool::Create(reader_options_);
      if (!pool.ok()) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      reader = std::move(*pool);
    }
    auto reply = reader->Command({"XREADGROUP", "GROUP", kConsumerGroup, consumer, "COUNT",
                                  std::to_string(std::max<uint32_t>(1, options_.batch)), "BLOCK",
                                  "1000", "STREAMS", queue_, ">"});
    if (!reply.ok()) {
      if (reply.status().message().find("NOGROUP") != absl::string_view::npos) {
        (void)redis::EnsureGroup(*redis_, queue_, kConsumerGroup, "0");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    redis::StreamEntries entries = redis::ReadGroupEntries(*reply);
    if (index == 0 && std::chrono::steady_clock::now() - last_claim > options_.claim_idle / 2) {
      last_claim = std::chrono::steady_clock::now();
      for (auto& e : redis::ClaimIdle(*redis_, queue_, kConsumerGroup, consumer,
                                      options_.claim_idle)) {
        entries.push_back(std::move(e));
      }
    }
    if (!entries.empty()) HandleBatch(entries);
  }
}

void PushQueue::HandleBatch(const redis::StreamEntries& entries) {
  std::vector<Pending> batch(entries.size());
  std::vector<Outgoing> sends;
  std::vector<std::pair<size_t, v1::PushJob>> messages;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& [id, fields] = entries[i];
    batch[i].id = id;
    auto m = fields.find("m");
    v1::PushJob job;
    if (m == fields.end() || !job.ParseFromString(m->second)) {
      log::Error("push_job_unreadable", {{"id", id}});
      continue;
    }
    if (job.has_device()) {
      sends.push_back({std::move(job), i});
    } else if (!job.group_event().empty()) {
      HandleGroupPage(std::move(job), &batch[i].commands);
    } else if (!job.task_id().empty()) {
      HandleTaskPage(std::move(job), &batch[i].commands);
    } else {
      messages.emplace_back(i, std::move(job));
    }
  }
  ExpandMessages(std::move(messages), &batch, &sends);
  SendAll(std::move(sends), &batch);
  // One transaction: every settled entry's commands with its acknowledgement.
  std::vector<std::vector<std::string>> commands = {{"MULTI"}};
  std::vector<std::string> ack = {"XACK", queue_, kConsumerGroup};
  for (auto& pending : batch) {
    if (!pending.settled) continue;  // left pending: claimed again later
    for (auto& c : pending.commands) commands.push_back(std::move(c));
    ack.push_back(pending.id);
  }
  if (ack.size() == 3) return;
  commands.push_back(std::move(ack));
  commands.push_back({"EXEC"});
  if (auto done = redis_->Pipeline(commands); !done.ok()) {
    // Not acknowledged: claimed again later (at least once).
    log::Warn("push_ack_failed", {{"entries", static_cast<int64_t>(entries.size())},
                                  {"error", std::string(done.status().message())}});
  }
}

void PushQueue::ExpandMessages(std::vector<std::pair<size_t, v1::PushJob>> messages,
                               std::vector<Pending>* batch, std::vector<Outgoing>* sends) {
  struct Expanding {
    size_t entry;
    v1::PushJob job;
    v1::Notification notification;
    std::string from;
  };
  std::map<uint64_t, std::vector<Expanding>> by_app;
  for (auto& [entry, job] : messages) {
    v1::TimelineEvent event;
    if (!event.ParseFromString(job.event()) || event.kind() != v1::TimelineEvent::KIND_MESSAGE) {
      continue;
    }
    auto notification = MakeC2CNotification(event.message());
    if (!notification) continue;
    uint64_t app = job.sdkappid();
    by_app[app].push_back(
        {entry, std::move(job), std::move(*notification), event.message().from_account()});
  }
  for (auto& [app, items] : by_app) {
    auto leave_pending = [&] {
      for (const auto& item : items) (*batch)[item.entry].settled = false;
    };
    // Do not disturb: each recipient's receive option for the sender.
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& item : items) {
      if (!item.job.ignore_receive_opt()) pairs.emplace_back(item.job.user_id(), item.from);
    }
    std::set<std::pair<std::string, std::string>> muted;
    if (receive_opts_ != nullptr && !pairs.empty()) {
      auto got = receive_opts_->Muted(app, pairs);
      if (!got.ok()) {
        leave_pending();
        continue;
      }
      muted = std::move(*got);
    }
    std::vector<std::string> users;
    std::set<std::string> seen;
    for (const auto& item : items) {
      if (seen.insert(item.job.user_id()).second) users.push_back(item.job.user_id());
    }
    // The devices not online now (one may have come online since).
    auto devices = devices_.OfUsers(app, users);
    auto sessions = presence_.SessionsOfUsers(app, users);
    if (!devices.ok() || !sessions.ok()) {
      leave_pending();
      continue;
    }
    std::vector<std::vector<presence::Device>> offline(items.size());
    std::vector<std::string> badge_users;
    std::set<std::string> badge_seen;
    for (size_t k = 0; k < items.size(); ++k) {
      const auto& item = items[k];
      const std::string& user = item.job.user_id();
      if (!item.job.ignore_receive_opt() && muted.count({user, item.from})) {
        metrics::Registry::Default()
            .GetCounter("parley_push_muted_total",
                        "notifications not sent: the recipient's do-not-disturb")
            .Increment();
        continue;
      }
      offline[k] = presence::OfflineDevices((*devices)[user], (*sessions)[user]);
      if (!offline[k].empty() && !NoBadge(item.notification) && badge_seen.insert(user).second) {
        badge_users.push_back(user);
      }
    }
    // The badge: each recipient's unread count, one call for the batch.
    std::map<std::string, uint32_t> badges;
    if (badges_ != nullptr && !badge_users.empty()) {
      auto got = badges_->Badges(app, badge_users);
      if (got.ok() && got->size() == badge_users.size()) {
        for (size_t i = 0; i < badge_users.size(); ++i) badges[badge_users[i]] = (*got)[i];
      }
    }
    for (size_t k = 0; k < items.size(); ++k) {
      auto& item = items[k];
      auto badge = badges.find(item.job.user_id());
      if (badge != badges.end() && !NoBadge(item.notification)) {
        item.notification.set_badge(badge->second);
      }
      for (const auto& device : offline[k]) {
        sends->push_back(
            {DeviceJob(item.job, item.job.user_id(), device, item.notification), item.entry});
      }
    }
  }
}

v1::PushJob PushQueue::DeviceJob(const v1::PushJob& job, const std::string& user,
                                 const presence::Device& device,
                                 const v1::Notification& notification) {
  v1::PushJob one;
  one.set_sdkappid(job.sdkappid());
  one.set_user_id(user);
  one.set_queued_ms(job.queued_ms());
  auto* d = one.mutable_device();
  d->set_channel(device.channel);
  d->set_token(device.token);
  d->set_business_id(device.business_id);
  d->set_platform(device.platform);
  *one.mutable_notification() = notification;
  return one;
}

void PushQueue::HandleGroupPage(v1::PushJob job, std::vector<std::vector<std::string>>* commands) {
  v1::GroupEvent event;
  if (!event.ParseFromString(job.group_event()) || !PushesOffline(event) || members_ == nullptr) {
    return;
  }
  std::string stream = event.topic_id().empty() ? event.group_id() : event.topic_id();
  auto page = members_->Page(job.sdkappid(), stream, job.cursor(), options_.group_page_size);
  if (!page.ok()) {
    // A group gone meanwhile has no one to notify; anything else is tried again.
    if (absl::IsNotFound(page.status()) || absl::IsInvalidArgument(page.status())) return;
    return Retry(std::move(job), "MembersUnavailable", std::chrono::milliseconds(0), commands);
  }
  if (!page->next().empty()) {
    v1::PushJob next = job;
    next.set_cursor(page->next());
    next.set_attempts(0);
    commands->push_back({"XADD", queue_, "*", "m", next.SerializeAsString()});
  }
  auto notification = MakeGroupNotification(
      event, page->topic_name().empty() ? page->name() : page->topic_name());
  if (!notification) return;
  // Members who take notifications of this group: not the sender, not
  // AcceptNotNotify or Discard, and for a targeted message its readers only.
  std::set<std::string> readers(event.message().to_account().begin(),
                                event.message().to_account().end());
  std::vector<std::string> users;
  for (const auto& member : page->members()) {
    if (member.user_id() == event.message().from_account() || member.msg_flag() != 0) continue;
    if (!readers.empty() && !readers.count(member.user_id())) continue;
    users.push_back(member.user_id());
  }
  if (users.empty()) return;
  auto devices = devices_.OfUsers(job.sdkappid(), users);
  auto sessions = presence_.SessionsOfUsers(job.sdkappid(), users);
  if (!devices.ok() || !sessions.ok()) {
    commands->clear();  // not the next page: this one goes again, whole
    return Retry(std::move(job), "RedisUnavailable", std::chrono::milliseconds(0), commands);
  }
  std::vector<std::string> pushed;
  std::map<std::string, std::vector<presence::Device>> offline;
  for (const auto& user : users) {
    auto o = presence::OfflineDevices((*devices)[user], (*sessions)[user]);
    if (o.empty()) continue;
    pushed.push_back(user);
    offline[user] = std::move(o);
  }
  if (pushed.empty()) return;
  std::vector<uint32_t> badges;
  if (!NoBadge(*notification) && badges_ != nullptr) {
    auto got = badges_->Badges(job.sdkappid(), pushed);
    if (got.ok() && got->size() == pushed.size()) badges = std::move(*got);
  }
  for (size_t i = 0; i < pushed.size(); ++i) {
    v1::Notification n = *notification;
    if (!badges.empty()) n.set_badge(badges[i]);
    for (const auto& device : offline[pushed[i]]) {
      commands->push_back(
          {"XADD", queue_, "*", "m", DeviceJob(job, pushed[i], device, n).SerializeAsString()});
    }
  }
}

void PushQueue::HandleTaskPage(v1::PushJob job, std::vector<std::vector<std::string>>* commands) {
  if (all_member_ == nullptr) return;
  auto task = all_member_->Task(job.sdkappid(), job.task_id());
  if (!task.ok()) return Retry(std::move(job), "TaskUnreadable", std::chrono::milliseconds(0), commands);
  if (!task->has_value()) return;
  const PushTask& t = **task;
  uint32_t limit = options_.group_page_size;
  std::vector<std::string> users;
  std::string next;
  if (EmptyCondition(t.condition)) {
    if (accounts_ == nullptr) return;
    auto page = accounts_->Page(job.sdkappid(), job.cursor(), limit);
    if (!page.ok()) return Retry(std::move(job), "AccountsUnavailable", std::chrono::milliseconds(0), commands);
    users.assign(page->user_ids().begin(), page->user_ids().end());
    next = page->next();
  } else {
    auto page = all_member_->Matching(job.sdkappid(), t.condition, job.cursor(), limit);
    if (!page.ok()) return Retry(std::move(job), "UsersUnreadable", std::chrono::milliseconds(0), commands);
    users = std::move(*page);
    if (users.size() == limit) next = users.back();
  }
  auto devices = devices_.OfUsers(job.sdkappid(), users);
  auto sessions = presence_.SessionsOfUsers(job.sdkappid(), users);
  if (!devices.ok() || !sessions.ok()) {
    return Retry(std::move(job), "RedisUnavailable", std::chrono::milliseconds(0), commands);
  }
  // Online users: the event to each gateway holding their sessions, once.
  v1::TimelineEvent event;
  event.set_kind(v1::TimelineEvent::KIND_BROADCAST);
  event.set_event_time(t.message.msg_time_stamp());
  *event.mutable_broadcast() = t.message;
  std::string encoded = event.SerializeAsString();
  std::map<std::string, v1::GatewayEvents> by_gateway;
  int64_t online = 0;
  bool stored = t.expires_ms > t.created_ms;
  for (const auto& user : users) {
    const auto& user_sessions = (*sessions)[user];
    if (user_sessions.empty()) continue;
    ++online;
    std::set<std::string> gateways;
    for (const auto& s : user_sessions) gateways.insert(s.gateway_id);
    for (const auto& g : gateways) {
      auto* d = by_gateway[g].add_deliveries();
      d->set_user_id(user);
      d->set_event(encoded);
    }
    if (stored) {
      // Had it: not again at the next login.
      commands->push_back({"EVAL", kRaiseMarkerScript, "1", BroadcastMarkerKey(job.sdkappid(), user),
                           std::to_string(t.seq), std::to_string(kMaxBroadcastLifeSeconds * 1000)});
    }
  }
  std::vector<std::pair<std::string, presence::StreamEntry>> entries;
  for (const auto& [gateway, events] : by_gateway) {
    entries.push_back({gateway, {"events", job.sdkappid(), "", "", events.SerializeAsString()}});
  }
  if (auto st = presence_.AppendAll(entries); !st.ok()) {
    commands->clear();
    return Retry(std::move(job), "RedisUnavailable", std::chrono::milliseconds(0), commands);
  }
  // Offline devices: a notification each, when the push is kept for them.
  int64_t pushed = 0;
  auto notification = MakeBroadcastNotification(t.message);
  if (stored && notification) {
    for (const auto& user : users) {
      for (const auto& device : presence::OfflineDevices((*devices)[user], (*sessions)[user])) {
        commands->push_back(
            {"XADD", queue_, "*", "m", DeviceJob(job, user, device, *notification).SerializeAsString()});
        ++pushed;
      }
    }
  }
  if (!next.empty()) {
    v1::PushJob more = job;
    more.set_cursor(next);
    more.set_attempts(0);
    commands->push_back({"XADD", queue_, "*", "m", more.SerializeAsString()});
  }
  auto progress = all_member_->AddProgress(job.sdkappid(), job.task_id(),
                                           static_cast<int64_t>(users.size()), online, pushed,
                                           next.empty() ? redis::NowMillis() : 0);
  if (next.empty() && progress.ok() && callbacks_ != nullptr &&
      callbacks_->Enabled(job.sdkappid(), "Push.AllMemberPush")) {
    nlohmann::ordered_json payload = {
        {"EventType", "AllMemberPush"},
        {"TaskId", t.task_id},
        {"From_Account", t.message.from_account()},
        {"PushStage", "Finished"},
        {"Users", progress->users},
        {"OnlineUsers", progress->online},
        {"PushedDevices", progress->devices},
        {"StartTime", t.created_ms / 1000},
        {"FinishTime", progress->finished_ms / 1000},
        {"ErrCode", 0},
        {"ErrInfo", ""}};
    callbacks_->After(job.sdkappid(), "Push.AllMemberPush", payload.dump(), "RESTAPI");
  }
}

void PushQueue::Retry(v1::PushJob job, const std::string& reason,
                      std::chrono::milliseconds retry_after,
                      std::vector<std::vector<std::string>>* commands) {
  job.set_attempts(job.attempts() + 1);
  job.set_last_error(reason);
  if (job.attempts() >= options_.max_attempts) {
    commands->push_back({"XADD", dead_, "MAXLEN", "~", std::to_string(options_.dead_max_count),
                         "*", "m", job.SerializeAsString()});
    log::Warn("push_gave_up", {{"sdkappid", job.sdkappid()},
                               {"channel", job.device().channel()},
                               {"attempts", job.attempts()},
                               {"reason", reason}});
    if (job.has_device()) Report(job, job.device().channel(), kPushGaveUp, reason);
    return;
  }
  int64_t due = redis::NowMillis() +
                RetryDelay(job.attempts(), retry_after, options_.retry_base, options_.retry_max)
                    .count();
  // The member starts with a unique prefix (the move script drops it), so
  // two equal jobs are two members.
  static std::atomic<uint64_t> serial{0};
  commands->push_back({"ZADD", retry_, std::to_string(due),
                       absl::StrCat(redis::NowMillis(), "-", serial++, " ",
                                    job.SerializeAsString())});
}

void PushQueue::SendAll(std::vector<Outgoing> sends, std::vector<Pending>* batch) {
  std::vector<Prepared> prepared(sends.size());
  std::vector<bool> skipped(sends.size(), false);
  std::vector<const HttpRequest*> requests;
  std::vector<size_t> requested;
  for (size_t i = 0; i < sends.size(); ++i) {
    const v1::PushJob& job = sends[i].job;
    const auto& device = job.device();
    auto vendor = vendors_.find(device.channel());
    if (vendor == vendors_.end() || vendor->second == nullptr) {
      prepared[i].result = SendResult{Outcome::kRejected, 0, "NoVendor", {}};
      continue;
    }
    if (auto open = breaker_.OpenFor(device.channel(), redis::NowMillis()); open.count() > 0) {
      // Known to be failing: later, without holding up this batch.
      metrics::Registry::Default()
          .GetCounter("parley_push_vendor_skipped_total",
                      "notifications put off while their vendor's circuit breaker is open",
                      {{"channel", device.channel()}})
          .Increment();
      prepared[i].result = SendResult{Outcome::kRetry, 0, "VendorUnavailable", open};
      continue;
    }
    auto credential = credentials_->Get(job.sdkappid(), device.channel(), device.business_id());
    if (!credential.ok()) {
      prepared[i].result = SendResult{Outcome::kRetry, 0, "CredentialUnreadable", {}};
      continue;
    }
    if (!credential->has_value()) {
      Failed(device.channel(), "NoCredential").Increment();
      Report(job, device.channel(), kPushNoCredential, "no credential for this channel");
      skipped[i] = true;
      continue;
    }
    prepared[i] = vendor->second->Prepare(**credential, device.token(), job.notification());
    if (!prepared[i].result) {
      requests.push_back(&prepared[i].request);
      requested.push_back(i);
    }
  }
  if (!requests.empty()) {
    std::vector<HttpResponse> responses = http_->SendAll(requests);
    for (size_t k = 0; k < requested.size(); ++k) {
      size_t i = requested[k];
      Latency(sends[i].job.device().channel()).Observe(responses[k].seconds);
      prepared[i].result = prepared[i].interpret(responses[k]);
      breaker_.Record(sends[i].job.device().channel(), VendorFailing(*prepared[i].result),
                      redis::NowMillis());
    }
  }
  for (size_t i = 0; i < sends.size(); ++i) {
    if (skipped[i]) continue;
    Settle(std::move(sends[i].job), *prepared[i].result, &(*batch)[sends[i].entry].commands);
  }
}

void PushQueue::Settle(v1::PushJob job, const SendResult& result,
                       std::vector<std::vector<std::string>>* commands) {
  const auto& device = job.device();
  switch (result.outcome) {
    case Outcome::kSent:
      Sent(device.channel()).Increment();
      Report(job, device.channel(), kPushOk, "");
      return;
    case Outcome::kInvalidToken:
      Failed(device.channel(), "invalid_token").Increment();
      (void)devices_.Remove(job.sdkappid(), job.user_id(), device.channel(), device.token());
      Report(job, device.channel(), kPushInvalidToken, result.reason);
      return;
    case Outcome::kRejected:
      Failed(device.channel(), result.reason.empty() ? "rejected" : result.reason).Increment();
      log::Warn("push_rejected", {{"sdkappid", job.sdkappid()},
                                  {"channel", device.channel()},
                                  {"status", result.http_status},
                                  {"reason", result.reason}});
      Report(job, device.channel(), kPushRejected, result.reason);
      return;
    case Outcome::kRetry:
      break;
  }
  Failed(device.channel(), result.reason.empty() ? "retry" : result.reason).Increment();
  Retry(std::move(job), absl::StrCat(result.http_status, " ", result.reason), result.retry_after,
        commands);
}

void PushQueue::Report(const v1::PushJob& job, const std::string& channel, int32_t code,
                       const std::string& info) {
  if (callbacks_ == nullptr || !callbacks_->Enabled(job.sdkappid(), "Push.OfflinePush")) return;
  nlohmann::ordered_json payload = {
      {"EventType", "OfflinePush"},
      {"To_Account", job.user_id()},
      {"From_Account", job.notification().from_account()},
      {"MsgKey", job.notification().msg_key()},
      {"PushPlatform", channel},
      {"PushStage", code == kPushOk ? "Sent" : "Failed"},
      {"ErrCode", code},
      {"ErrInfo", info},
      {"Attempts", job.attempts() + (code == kPushOk ? 1 : 0)},
  };
  callbacks_->After(job.sdkappid(), "Push.OfflinePush", payload.dump(), "RESTAPI");
}

void PushQueue::MoveRetries() {
  while (running_) {
    if (redis::MoveDueRetries(*redis_, retry_, queue_, redis::NowMillis()) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

void PushQueue::Trim() {
  while (running_) {
    int64_t trimmed = redis::TrimConsumed(*redis_, queue_);
    if (trimmed > 0) {
      metrics::Registry::Default()
          .GetCounter("parley_push_trimmed_total", "consumed push queue entries trimmed")
          .Increment(static_cast<uint64_t>(trimmed));
    }
    for (int i = 0; i < 10 && running_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace parley::push
