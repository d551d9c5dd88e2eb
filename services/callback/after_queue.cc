#include "after_queue.h"

#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/presence/presence.h"

namespace parley::callback {
namespace {

using Fields = std::map<std::string, std::string>;
using Entries = AfterQueue::Entries;
using redis::ClaimIdle;
using redis::NowMillis;
using redis::ParseStreamEntries;
using redis::ReadGroupEntries;

std::string Str(const redisReply* r) {
  return r && r->str ? std::string(r->str, r->len) : std::string();
}

// State.StateChange writes iOS as "IOS" (compat reference §6.1).
std::string OptPlatform(const std::string& platform) {
  std::string name = callbacks::OptPlatform(false, platform);
  return name == "iOS" ? "IOS" : name;
}

metrics::Counter& Counter(const char* name, const char* help, const std::string& command) {
  return metrics::Registry::Default().GetCounter(name, help, {{"command", command}});
}

}  // namespace

AfterQueue::AfterQueue(CallbackLogic* logic, redis::Pool* redis, redis::PoolOptions reader_options,
                       AfterQueueOptions options)
    : logic_(logic),
      redis_(redis),
      reader_options_(std::move(reader_options)),
      options_(std::move(options)) {
  reader_options_.size = 1;
  reader_options_.timeout = std::chrono::seconds(5);  // longer than the 1 s BLOCK
}

AfterQueue::~AfterQueue() {
  running_ = false;
  for (auto& t : threads_) t.join();
}

std::chrono::milliseconds AfterQueue::Backoff(const AfterQueueOptions& options, uint32_t attempts) {
  return redis::Backoff(options.retry_base, options.retry_max, attempts);
}

void AfterQueue::EnsureGroup(const char* stream, const char* start) {
  if (auto st = redis::EnsureGroup(*redis_, stream, callbacks::kConsumerGroup, start); !st.ok()) {
    // Redis may be down or still loading: the readers try again on NOGROUP.
    log::Warn("callback_group_not_created", {{"stream", stream}, {"error", std::string(st.message())}});
  }
}

absl::Status AfterQueue::Start() {
  EnsureGroup(callbacks::kQueueStream, "0");
  EnsureGroup(presence::kStateChangeStream, "$");
  running_ = true;
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this, i] { Work(i); });
  threads_.emplace_back([this] { MoveDueRetries(); });
  threads_.emplace_back([this] { ConvertStateChanges(); });
  threads_.emplace_back([this] { Trim(); });
  threads_.emplace_back([this] { DrainParked(); });
  return absl::OkStatus();
}

namespace {

// Moves up to ARGV[2] of the oldest parked events (KEYS[1]) to the queue
// (KEYS[2]) in one atomic step, so replicas draining together never move
// one twice; forgets the app (ARGV[1] in KEYS[3]) once nothing is parked.
constexpr char kDrainScript[] = R"lua(
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[2])
for _, entry in ipairs(entries) do
  redis.call('XADD', KEYS[2], '*', 'm', entry[2][2])
  redis.call('XDEL', KEYS[1], entry[1])
end
if redis.call('XLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[1])
  redis.call('DEL', KEYS[1])
end
return #entries
)lua";

}  // namespace

void AfterQueue::DrainApp(uint64_t sdkappid) {
  std::string parked = callbacks::ParkedStream(sdkappid);
  if (logic_->EndpointDown(sdkappid)) {
    // Probe with the oldest parked event: while the breaker is cooling down
    // this costs no network attempt; the probe that succeeds closes it.
    auto oldest = redis_->Command({"XRANGE", parked, "-", "+", "COUNT", "1"});
    if (!oldest.ok()) return;
    Entries entries = ParseStreamEntries(oldest->raw());
    if (entries.empty()) return;
    const auto& [id, fields] = entries.front();
    auto m = fields.find("m");
    auto event = callbacks::DecodeEvent(m == fields.end() ? "" : m->second);
    absl::Status delivered =
        event.ok() ? logic_->DeliverAfter(*event) : absl::NotFoundError("unreadable");
    if (delivered.ok() || absl::IsNotFound(delivered)) (void)redis_->Command({"XDEL", parked, id});
    return;
  }
  // Back (or its URL changed): everything parked goes to the queue, in order.
  for (int round = 0; round < 20 && running_; ++round) {
    auto moved = redis_->Command({"EVAL", kDrainScript, "3", parked, callbacks::kQueueStream,
                                  callbacks::kParkedApps, std::to_string(sdkappid), "500"});
    if (!moved.ok() || moved->integer() < 500) return;
  }
}

void AfterQueue::DrainParked() {
  while (running_) {
    auto apps = redis_->Command({"SMEMBERS", callbacks::kParkedApps});
    if (apps.ok()) {
      const redisReply* list = apps->raw();
      for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements && running_; ++i) {
        uint64_t app = 0;
        if (absl::SimpleAtoi(Str(list->element[i]), &app)) DrainApp(app);
      }
    }
    auto until = std::chrono::steady_clock::now() + options_.drain_interval;
    while (running_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

void AfterQueue::TrimConsumed(const char* stream) {
  int64_t trimmed = redis::TrimConsumed(*redis_, stream);
  if (trimmed > 0) {
    metrics::Registry::Default()
        .GetCounter("parley_callback_trimmed_total", "consumed stream entries trimmed",
                    {{"stream", stream}})
        .Increment(static_cast<uint64_t>(trimmed));
  }
}

void AfterQueue::Trim() {
  while (running_) {
    auto start = std::chrono::steady_clock::now();
    TrimConsumed(callbacks::kQueueStream);
    TrimConsumed(presence::kStateChangeStream);
    // Dead letters: a window of age and of count, whichever is smaller.
    int64_t oldest_kept = NowMillis() -
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.dead_letter_max_age).count();
    (void)redis_->Pipeline({
        {"XTRIM", callbacks::kDeadLetterStream, "MINID", "~", std::to_string(oldest_kept)},
        {"XTRIM", callbacks::kDeadLetterStream, "MAXLEN", "~",
         std::to_string(options_.dead_letter_max_count)},
    });
    while (running_ && std::chrono::steady_clock::now() - start < options_.trim_interval) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

void AfterQueue::Handle(const std::string& id, const std::string& encoded) {
  auto event = callbacks::DecodeEvent(encoded);
  std::vector<std::vector<std::string>> commands;
  if (!event.ok()) {
    log::Error("callback_event_unreadable", {{"id", id}});
  } else {
    absl::Status delivered = logic_->DeliverAfter(*event);
    if (absl::IsAborted(delivered)) {
      // The endpoint is down: park the event as it is, no attempt spent.
      commands.push_back({"MULTI"});
      commands.push_back({"XADD", callbacks::ParkedStream(event->sdkappid), "MAXLEN", "~",
                          std::to_string(callbacks::kParkedMaxPerApp), "*", "m", encoded});
      commands.push_back({"SADD", callbacks::kParkedApps, std::to_string(event->sdkappid)});
      Counter("parley_callback_parked_total", "after-events parked while their endpoint is down",
              event->command)
          .Increment();
    } else if (!delivered.ok() && !absl::IsNotFound(delivered)) {
      event->attempts++;
      event->last_error = std::string(delivered.message());
      commands.push_back({"MULTI"});
      if (event->attempts >= options_.max_attempts) {
        commands.push_back({"XADD", callbacks::kDeadLetterStream, "MAXLEN", "~",
                            std::to_string(options_.dead_letter_max_count), "*", "m",
                            callbacks::EncodeEvent(*event)});
        Counter("parley_callback_dead_lettered_total", "after-events that failed every retry",
                event->command)
            .Increment();
        log::Warn("callback_dead_lettered", {{"sdkappid", event->sdkappid},
                                             {"command", event->command},
                                             {"attempts", event->attempts},
                                             {"error", event->last_error}});
      } else {
        int64_t due = NowMillis() + Backoff(options_, event->attempts).count();
        commands.push_back({"ZADD", callbacks::kRetrySet, std::to_string(due),
                            absl::StrCat(id, " ", callbacks::EncodeEvent(*event))});
        Counter("parley_callback_retried_total", "after-events scheduled for another attempt",
                event->command)
            .Increment();
      }
    }
  }
  commands.push_back({"XACK", callbacks::kQueueStream, callbacks::kConsumerGroup, id});
  if (commands.size() > 1) commands.push_back({"EXEC"});
  auto done = redis_->Pipeline(commands);
  if (!done.ok()) {
    // Not acknowledged: the entry stays pending and is claimed again later.
    log::Warn("callback_ack_failed", {{"id", id}, {"error", std::string(done.status().message())}});
  }
}

bool AfterQueue::OpenReader(std::unique_ptr<redis::Pool>* reader) {
  if (*reader) return true;
  auto pool = redis::Pool::Create(reader_options_);
  if (!pool.ok()) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return false;
  }
  *reader = std::move(*pool);
  return true;
}

void AfterQueue::Work(int index) {
  std::string consumer = absl::StrCat(options_.consumer, "-w", index);
  std::unique_ptr<redis::Pool> reader;
  auto last_claim = std::chrono::steady_clock::now();
  while (running_) {
    if (!OpenReader(&reader)) continue;
    auto reply = reader->Command({"XREADGROUP", "GROUP", callbacks::kConsumerGroup, consumer,
                                  "COUNT", "16", "BLOCK", "1000", "STREAMS",
                                  callbacks::kQueueStream, ">"});
    if (!reply.ok()) {
      if (reply.status().message().find("NOGROUP") != absl::string_view::npos) {
        EnsureGroup(callbacks::kQueueStream, "0");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    for (const auto& [id, fields] : ReadGroupEntries(*reply)) {
      auto m = fields.find("m");
      Handle(id, m == fields.end() ? "" : m->second);
    }
    // Entries read by a worker that died: take them over once idle long enough.
    if (index == 0 && std::chrono::steady_clock::now() - last_claim > options_.claim_idle / 2) {
      last_claim = std::chrono::steady_clock::now();
      for (const auto& [id, fields] :
           ClaimIdle(*redis_, callbacks::kQueueStream, callbacks::kConsumerGroup, consumer, options_.claim_idle)) {
        auto m = fields.find("m");
        Handle(id, m == fields.end() ? "" : m->second);
      }
    }
  }
}

void AfterQueue::MoveDueRetries() {
  while (running_) {
    if (redis::MoveDueRetries(*redis_, callbacks::kRetrySet, callbacks::kQueueStream,
                              NowMillis()) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

void AfterQueue::ConvertStateChanges() {
  std::unique_ptr<redis::Pool> reader;
  std::string consumer = options_.consumer + "-state";
  auto last_claim = std::chrono::steady_clock::now();
  while (running_) {
    if (!OpenReader(&reader)) continue;
    auto reply = reader->Command({"XREADGROUP", "GROUP", callbacks::kConsumerGroup, consumer,
                                  "COUNT", "64", "BLOCK", "1000", "STREAMS",
                                  presence::kStateChangeStream, ">"});
    if (!reply.ok()) {
      if (reply.status().message().find("NOGROUP") != absl::string_view::npos) {
        EnsureGroup(presence::kStateChangeStream, "$");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    ConvertStateEntries(ReadGroupEntries(*reply));
    // Changes read but never acknowledged (a replica that died, a failed
    // transaction) are taken over; left pending they would also stop the
    // stream from being trimmed.
    if (std::chrono::steady_clock::now() - last_claim > options_.claim_idle / 2) {
      last_claim = std::chrono::steady_clock::now();
      ConvertStateEntries(
          ClaimIdle(*redis_, presence::kStateChangeStream, callbacks::kConsumerGroup, consumer, options_.claim_idle));
    }
  }
}

void AfterQueue::ConvertStateEntries(const Entries& entries) {
  if (entries.empty()) return;
  // One transaction: each change is queued and acknowledged together, or
  // neither (a Redis still loading fails them all; they are claimed again).
  std::vector<std::vector<std::string>> commands = {{"MULTI"}};
  for (const auto& [id, f] : entries) {
    uint64_t app = std::strtoull(f.count("app") ? f.at("app").c_str() : "0", nullptr, 10);
    auto settings = logic_->GetSettings(app);
    if (app != 0 && settings.ok() && callbacks::Enables(*settings, "State.StateChange")) {
      nlohmann::ordered_json payload;
      std::string platform = f.count("platform") ? f.at("platform") : "";
      payload["Info"] = {{"Action", f.count("action") ? f.at("action") : ""},
                         {"To_Account", f.count("user") ? f.at("user") : ""},
                         {"Reason", f.count("reason") ? f.at("reason") : ""}};
      // Parley's addition: the user's status after the change.
      if (f.count("status") && !f.at("status").empty()) payload["Info"]["Status"] = f.at("status");
      payload["KickedDevice"] = nlohmann::ordered_json::array();
      if (f.count("kicked") && !f.at("kicked").empty()) {
        for (absl::string_view kicked : absl::StrSplit(f.at("kicked"), ',')) {
          payload["KickedDevice"].push_back({{"Platform", OptPlatform(std::string(kicked))}});
        }
      }
      callbacks::Event event{app,
                             "State.StateChange",
                             payload.dump(),
                             OptPlatform(platform),
                             "",
                             std::strtoll(f.count("time_ms") ? f.at("time_ms").c_str() : "0",
                                          nullptr, 10),
                             0,
                             ""};
      commands.push_back({"XADD", callbacks::kQueueStream, "*", "m",
                          callbacks::EncodeEvent(event)});
    }
    commands.push_back({"XACK", presence::kStateChangeStream, callbacks::kConsumerGroup, id});
  }
  commands.push_back({"EXEC"});
  (void)redis_->Pipeline(commands);
}

}  // namespace parley::callback
