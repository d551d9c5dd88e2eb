#include "parley/callbacks/callbacks.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/rpc/client.h"

namespace parley::callbacks {
namespace {

constexpr int64_t kSettingsSeconds = 30;
constexpr size_t kMaxQueued = 100000;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string EncodeEvent(const Event& e) {
  nlohmann::json j = {{"a", e.sdkappid}, {"c", e.command},       {"p", e.payload_json},
                      {"o", e.opt_platform}, {"i", e.client_ip}, {"t", e.event_time_ms},
                      {"n", e.attempts},   {"e", e.last_error}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<Event> DecodeEvent(const std::string& encoded) {
  auto j = nlohmann::json::parse(encoded, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("not an event");
  Event e;
  try {
    e.sdkappid = j.at("a").get<uint64_t>();
    e.command = j.at("c").get<std::string>();
    e.payload_json = j.at("p").get<std::string>();
    e.opt_platform = j.value("o", "");
    e.client_ip = j.value("i", "");
    e.event_time_ms = j.value("t", int64_t{0});
    e.attempts = j.value("n", 0u);
    e.last_error = j.value("e", "");
  } catch (const nlohmann::json::exception& ex) {
    return absl::InvalidArgumentError(std::string("bad event: ") + ex.what());
  }
  return e;
}

std::string OptPlatform(bool is_admin, const std::string& p) {
  if (is_admin) return "RESTAPI";
  if (p == "iPhone") return "iOS";
  if (p == "PC") return "Windows";
  if (p == "Android" || p == "Web" || p == "Mac" || p == "iPad") return p;
  return "Unknown";
}

bool Enables(const v1::CallbackSettings& settings, const std::string& command) {
  if (settings.url().empty()) return false;
  if (settings.enable_all()) return true;
  for (const auto& c : settings.enabled_commands()) {
    if (c == command) return true;
  }
  return false;
}

CallbackClient::CallbackClient(std::shared_ptr<v1::WebhookService::StubInterface> service,
                               redis::Pool* redis, redis::PoolOptions subscriber_options)
    : service_(std::move(service)), redis_(redis) {
  auto invalidate = [this](const std::string& message) {
    std::vector<std::string> parts = absl::StrSplit(message, ' ');
    uint64_t app = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &app)) {
      settings_.Clear();
      std::lock_guard lock(down_mu_);
      down_until_ms_.clear();
      return;
    }
    std::lock_guard lock(down_mu_);
    if (parts[0] == "d") {
      down_until_ms_[app] = NowMillis() + kDownMillis;
      return;
    }
    down_until_ms_.erase(app);  // "u": back; "a": new settings, maybe a new URL
    if (parts[0] == "a") settings_.Erase(app);
  };
  changes_ = std::make_unique<redis::Subscriber>(
      std::move(subscriber_options), kChangesChannel, invalidate,
      [invalidate] { invalidate("all"); });
  changes_->Start();
  writer_ = std::thread([this] { Run(); });
}

CallbackClient::~CallbackClient() {
  changes_.reset();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

std::optional<v1::CallbackSettings> CallbackClient::Settings(uint64_t sdkappid) {
  int64_t now = NowSeconds();
  if (auto cached = settings_.Get(sdkappid, now)) return cached;
  uint64_t ticket = settings_.Ticket();
  v1::GetCallbackSettingsRequest request;
  request.set_sdkappid(sdkappid);
  v1::CallbackSettings settings;
  auto context = rpc::NewContext(nullptr, std::chrono::milliseconds(1000));
  grpc::Status status = service_->GetSettings(context.get(), request, &settings);
  if (!status.ok()) {
    log::Warn("callback_settings_unavailable", {{"sdkappid", sdkappid},
                                                {"error", status.error_message()}});
    return std::nullopt;
  }
  // Only trust what no change notice overtook.
  if (changes_->subscribed()) {
    settings_.PutIfUnchanged(sdkappid, settings, now + kSettingsSeconds, ticket);
  }
  return settings;
}

std::string ParkedStream(uint64_t sdkappid) {
  return absl::StrCat("parley:callbacks:parked:", sdkappid);
}

bool CallbackClient::EndpointDown(uint64_t sdkappid) {
  std::lock_guard lock(down_mu_);
  auto it = down_until_ms_.find(sdkappid);
  if (it == down_until_ms_.end()) return false;
  if (it->second > NowMillis()) return true;
  down_until_ms_.erase(it);  // not announced again: ask parley-callback anew
  return false;
}

bool CallbackClient::Enabled(uint64_t sdkappid, const std::string& command) {
  auto settings = Settings(sdkappid);
  // Unknown settings: queue after-events anyway, parley-callback filters.
  return !settings || Enables(*settings, command);
}

v1::BeforeResponse CallbackClient::Before(uint64_t sdkappid, const std::string& command,
                                          const std::string& payload_json,
                                          const std::string& opt_platform,
                                          const std::string& client_ip) {
  v1::BeforeResponse allow;
  auto settings = Settings(sdkappid);
  if (settings && !Enables(*settings, command)) return allow;
  if (EndpointDown(sdkappid)) {
    // Known down: the failure policy at once, without a round trip.
    metrics::Registry::Default()
        .GetCounter("parley_callback_before_skipped_total",
                    "before-callbacks answered by the failure policy: the endpoint is down")
        .Increment();
    if (settings && settings->refuse_on_failure()) {
      v1::BeforeResponse refuse;
      refuse.set_verdict(v1::BeforeResponse::REJECT);
      refuse.set_error_code(80003);
      refuse.set_error_info("the app's callback endpoint is down");
      return refuse;
    }
    return allow;
  }
  v1::BeforeRequest request;
  request.set_sdkappid(sdkappid);
  request.set_command(command);
  request.set_payload_json(payload_json);
  request.set_opt_platform(opt_platform);
  request.set_client_ip(client_ip);
  v1::BeforeResponse response;
  // The service's own HTTP timeout is 2 s; leave it room to answer.
  auto context = rpc::NewContext(nullptr, std::chrono::milliseconds(3000));
  grpc::Status status = service_->Before(context.get(), request, &response);
  if (status.ok()) return response;
  log::Warn("before_callback_unavailable", {{"sdkappid", sdkappid},
                                            {"command", command},
                                            {"error", status.error_message()}});
  if (settings && settings->refuse_on_failure()) {
    response.Clear();
    response.set_verdict(v1::BeforeResponse::REJECT);
    response.set_error_code(80003);
    response.set_error_info("the app's before-callback could not be made");
    return response;
  }
  return allow;
}

void CallbackClient::After(uint64_t sdkappid, const std::string& command, std::string payload_json,
                           std::string opt_platform, std::string client_ip,
                           std::function<void()> settled) {
  Enqueue({{sdkappid, command, std::move(payload_json), std::move(opt_platform),
            std::move(client_ip), NowMillis(), 0, ""},
           nullptr,
           std::move(settled)});
}

void CallbackClient::After(uint64_t sdkappid, const std::string& command,
                           std::function<std::string()> make_payload, std::string opt_platform,
                           std::string client_ip) {
  Enqueue({{sdkappid, command, "", std::move(opt_platform), std::move(client_ip), NowMillis(), 0, ""},
           std::move(make_payload),
           nullptr});
}

void CallbackClient::Enqueue(Queued queued) {
  if (!Enabled(queued.event.sdkappid, queued.event.command)) {
    if (queued.settled) queued.settled();
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      metrics::Registry::Default()
          .GetCounter("parley_callback_enqueue_dropped_total",
                      "after-events dropped because Redis stayed unreachable")
          .Increment();
      return;
    }
    queue_.push_back(std::move(queued));
  }
  cv_.notify_one();
}

void CallbackClient::Run() {
  for (;;) {
    std::vector<Event> batch;
    std::vector<std::function<void()>> settled;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      while (!queue_.empty() && batch.size() < 256) {
        Queued queued = std::move(queue_.front());
        queue_.pop_front();
        if (queued.make_payload) {
          lock.unlock();  // may query a database
          queued.event.payload_json = queued.make_payload();
          lock.lock();
        }
        batch.push_back(std::move(queued.event));
        if (queued.settled) settled.push_back(std::move(queued.settled));
      }
    }
    std::vector<std::vector<std::string>> commands;
    for (const auto& event : batch) {
      if (EndpointDown(event.sdkappid)) {
        // Straight to the app's parked events: parley-callback moves them to
        // the queue once the endpoint answers again.
        commands.push_back({"XADD", ParkedStream(event.sdkappid), "MAXLEN", "~",
                            std::to_string(kParkedMaxPerApp), "*", "m", EncodeEvent(event)});
        commands.push_back({"SADD", kParkedApps, std::to_string(event.sdkappid)});
        continue;
      }
      commands.push_back({"XADD", kQueueStream, "MAXLEN", "~", "10000000", "*", "m",
                          EncodeEvent(event)});
    }
    for (int attempt = 0;; ++attempt) {
      auto replies = redis_->Pipeline(commands);
      std::string error;
      if (replies.ok()) {
        // A command can fail on its own (a Redis that is still loading its
        // data answers LOADING): those are sent again, the others are done.
        std::vector<std::vector<std::string>> failed;
        for (size_t i = 0; i < replies->size(); ++i) {
          if ((*replies)[i].ok()) continue;
          error = std::string((*replies)[i].status().message());
          failed.push_back(std::move(commands[i]));
        }
        if (failed.empty()) break;
        commands = std::move(failed);
      } else {
        error = std::string(replies.status().message());
      }
      log::Warn("callback_enqueue_failed", {{"commands", commands.size()}, {"error", error}});
      std::unique_lock lock(mu_);
      if (stopping_) return;
      cv_.wait_for(lock, std::chrono::milliseconds(std::min(5000, 100 << std::min(attempt, 6))));
    }
    for (auto& done : settled) done();
  }
}

}  // namespace parley::callbacks
