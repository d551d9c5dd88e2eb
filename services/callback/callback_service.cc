#include "callback_service.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/rpc/tls.h"
#include "transport.h"

namespace parley::callback {
namespace {

constexpr int64_t kSettingsMillis = 30000;
constexpr int32_t kBadParam = 60003;  // operator API: malformed settings
constexpr int32_t kInternal = 70500;

}  // namespace

CallbackLogic::CallbackLogic(pg::Pool* pool, http::Client* http,
                             std::function<void(const std::string&)> publish, Clock now_ms,
                             CallbackOptions options)
    : breakers_(options.breaker),
      pool_(pool),
      http_(http),
      publish_(std::move(publish)),
      now_ms_(std::move(now_ms)),
      options_(options) {}

void CallbackLogic::Invalidate(uint64_t sdkappid) { cache_.Erase(sdkappid); }

void CallbackLogic::InvalidateAll() { cache_.Clear(); }

absl::StatusOr<v1::CallbackSettings> CallbackLogic::GetSettings(uint64_t sdkappid) {
  int64_t now = now_ms_();
  if (auto cached = cache_.Get(sdkappid, now)) return *cached;
  uint64_t ticket = cache_.Ticket();
  auto settings = pool_->Query<v1::CallbackSettings>(
      [&](pqxx::connection& c) -> absl::StatusOr<v1::CallbackSettings> {
        pqxx::nontransaction tx(c);
        auto rows = tx.exec_params(
            "SELECT url, token, enabled_commands, enable_all, refuse_on_failure"
            " FROM callback_settings WHERE sdkappid = $1",
            sdkappid);
        v1::CallbackSettings s;
        s.set_sdkappid(sdkappid);
        s.set_url(rows.empty() ? "" : rows[0][0].as<std::string>());
        s.set_token(rows.empty() ? "" : rows[0][1].as<std::string>());
        if (!rows.empty()) {
          for (const auto& c : pg::TextList(rows[0][2])) s.add_enabled_commands(c);
        }
        s.set_enable_all(!rows.empty() && rows[0][3].as<bool>());
        s.set_refuse_on_failure(!rows.empty() && rows[0][4].as<bool>());
        return s;
      });
  if (!settings.ok()) return errors::Error(kInternal, "callback settings could not be read");
  if (caching_()) cache_.PutIfUnchanged(sdkappid, *settings, now + kSettingsMillis, ticket);
  return settings;
}

absl::StatusOr<v1::CallbackSettings> CallbackLogic::UpdateSettings(
    const v1::CallbackSettings& update) {
  uint64_t app = update.sdkappid();
  if (app == 0) return errors::Error(kBadParam, "sdkappid is required");
  if (update.has_url() && !update.url().empty() && !http::ParseUrl(update.url()).ok()) {
    return errors::Error(kBadParam, "url must be an http:// or https:// URL");
  }
  bool set_commands = update.set_enabled_commands() || update.enabled_commands_size() > 0;
  absl::Status st = pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("INSERT INTO callback_settings (sdkappid) VALUES ($1) ON CONFLICT DO NOTHING",
                   app);
    tx.exec_params(
        "UPDATE callback_settings SET"
        " url = CASE WHEN $2 THEN $3 ELSE url END,"
        " token = CASE WHEN $4 THEN $5 ELSE token END,"
        " enabled_commands = CASE WHEN $6 THEN $7::text[] ELSE enabled_commands END,"
        " enable_all = coalesce(NULLIF($8, '')::boolean, enable_all),"
        " refuse_on_failure = coalesce(NULLIF($9, '')::boolean, refuse_on_failure)"
        " WHERE sdkappid = $1",
        app, update.has_url(), update.url(), update.has_token(), update.token(), set_commands,
        pg::TextArray({update.enabled_commands().begin(), update.enabled_commands().end()}),
        update.has_enable_all() ? (update.enable_all() ? "true" : "false") : "",
        update.has_refuse_on_failure() ? (update.refuse_on_failure() ? "true" : "false") : "");
    tx.commit();
    return absl::OkStatus();
  });
  if (!st.ok()) return errors::Error(kInternal, "callback settings could not be stored; retry");
  Invalidate(app);
  publish_(absl::StrCat("a ", app));
  log::Info("callback_settings_updated", {{"sdkappid", app}});  // never the token
  return GetSettings(app);
}

absl::Status CallbackLogic::EnsureBootstrap(uint64_t sdkappid, const std::string& url,
                                            const std::string& token) {
  if (!http::ParseUrl(url).ok()) {
    return absl::InvalidArgumentError("PARLEY_CALLBACK_URL must be an http:// or https:// URL");
  }
  absl::Status st = pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO callback_settings (sdkappid, url, token, enable_all) VALUES ($1, $2, $3, true)"
        " ON CONFLICT (sdkappid) DO UPDATE SET url = EXCLUDED.url, token = EXCLUDED.token",
        sdkappid, url, token);
    tx.commit();
    return absl::OkStatus();
  });
  if (st.ok()) {
    Invalidate(sdkappid);
    publish_(absl::StrCat("a ", sdkappid));
  }
  return st;
}

absl::StatusOr<http::ClientResponse> CallbackLogic::Post(const v1::CallbackSettings& settings,
                                                         const std::string& command,
                                                         const std::string& payload_json,
                                                         const std::string& opt_platform,
                                                         const std::string& client_ip,
                                                         int64_t event_time_ms) {
  auto body = CallbackBody(command, payload_json, event_time_ms);
  if (!body.ok()) return body.status();
  int64_t now = now_ms_();
  auto& registry = metrics::Registry::Default();
  std::string breaker = CircuitBreakers::Key(settings.sdkappid(), settings.url());
  auto decision = breakers_.Allow(breaker, now);
  if (decision == CircuitBreakers::Decision::kSkip) {
    registry
        .GetCounter("parley_callback_short_circuited_total",
                    "callbacks not sent because the endpoint's circuit breaker is open",
                    {{"command", command}})
        .Increment();
    bool repeat = false;
    {
      std::lock_guard lock(down_announced_mu_);
      int64_t& last = down_announced_ms_[breaker];
      if (now - last >= kDownRepeatMs) {
        last = now;
        repeat = true;
      }
    }
    if (repeat) publish_(absl::StrCat("d ", settings.sdkappid()));
    return absl::AbortedError("the callback endpoint is down (circuit breaker open)");
  }
  std::string url = CallbackUrl(settings.url(), settings.sdkappid(), command,
                                opt_platform.empty() ? "RESTAPI" : opt_platform, client_ip,
                                settings.token(), now / 1000);
  auto start = std::chrono::steady_clock::now();
  auto answer = http_->Post(url, *body, options_.timeout);
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  registry.GetHistogram("parley_callback_seconds", "callback HTTP latency", {{"command", command}})
      .Observe(elapsed.count());
  bool ok = answer.ok() && answer->status == 200;
  // Refused, timed out, or an answer that is not Tencent's JSON: a failure.
  bool healthy = answer.ok() && AfterAnswerOk(answer->status, answer->body);
  bool was_open = decision == CircuitBreakers::Decision::kProbe;  // probes only while open
  breakers_.Record(breaker, healthy, now_ms_());
  bool open = breakers_.IsOpen(breaker);
  if (open != was_open) {
    log::Warn(open ? "callback_breaker_open" : "callback_breaker_closed",
              {{"sdkappid", settings.sdkappid()}, {"command", command}});
  }
  // Producers stop asking (and park after-events themselves) while it is
  // down; a failed probe says so again, as their word expires.
  if (open) {
    publish_(absl::StrCat("d ", settings.sdkappid()));
  } else if (was_open) {
    publish_(absl::StrCat("u ", settings.sdkappid()));
  }
  registry
      .GetCounter(ok ? "parley_callback_sent_total" : "parley_callback_failed_total",
                  ok ? "callbacks answered with HTTP 200" : "callbacks that failed or timed out",
                  {{"command", command}})
      .Increment();
  return answer;
}

absl::StatusOr<v1::BeforeResponse> CallbackLogic::Before(const v1::BeforeRequest& request) {
  auto settings = GetSettings(request.sdkappid());
  if (!settings.ok()) return settings.status();
  if (!callbacks::Enables(*settings, request.command())) return v1::BeforeResponse();
  auto answer = Post(*settings, request.command(), request.payload_json(), request.opt_platform(),
                     request.client_ip(), now_ms_());
  std::optional<std::string> body;
  if (answer.ok() && answer->status == 200) {
    body = answer->body;
  } else if (absl::IsAborted(answer.status())) {
    // The endpoint is known to be down: the failure policy, at once.
  } else {
    log::Warn("before_callback_failed",
              {{"sdkappid", request.sdkappid()},
               {"command", request.command()},
               {"error", answer.ok() ? absl::StrCat("HTTP ", answer->status)
                                     : std::string(answer.status().message())}});
  }
  return ReadBeforeAnswer(body, settings->refuse_on_failure());
}

bool CallbackLogic::EndpointDown(uint64_t sdkappid) {
  auto settings = GetSettings(sdkappid);
  return settings.ok() && breakers_.IsOpen(CircuitBreakers::Key(sdkappid, settings->url()));
}

absl::Status CallbackLogic::DeliverAfter(const callbacks::Event& event) {
  auto settings = GetSettings(event.sdkappid);
  if (!settings.ok()) return absl::UnavailableError("settings unavailable");
  if (!callbacks::Enables(*settings, event.command)) {
    return absl::NotFoundError("the app no longer wants this command");
  }
  auto answer = Post(*settings, event.command, event.payload_json, event.opt_platform,
                     event.client_ip, event.event_time_ms);
  if (!answer.ok()) return answer.status();  // ABORTED while the breaker is open
  if (!AfterAnswerOk(answer->status, answer->body)) {
    return absl::UnavailableError(absl::StrCat("HTTP ", answer->status, " or a non-JSON answer"));
  }
  return absl::OkStatus();
}

grpc::Status CallbackGrpcService::Before(grpc::ServerContext*, const v1::BeforeRequest* request,
                                         v1::BeforeResponse* response) {
  return rpc::Serve(request, response, [&](const auto& r) { return logic_->Before(r); });
}

grpc::Status CallbackGrpcService::GetSettings(grpc::ServerContext* context,
                                              const v1::GetCallbackSettingsRequest* request,
                                              v1::CallbackSettings* response) {
  // Producers (message, relationship) need the URL and commands, not the
  // signing token; only the operator sees it.
  bool operator_call = rpc::PeerIdentity(*context) == rpc::kOperatorIdentity;
  return rpc::Serve(request, response, [&](const auto& r) {
    auto settings = logic_->GetSettings(r.sdkappid());
    if (settings.ok() && !operator_call) settings->clear_token();
    return settings;
  });
}

grpc::Status CallbackGrpcService::UpdateSettings(grpc::ServerContext*,
                                                 const v1::CallbackSettings* request,
                                                 v1::CallbackSettings* response) {
  return rpc::Serve(request, response, [&](const auto& r) { return logic_->UpdateSettings(r); });
}

absl::StatusOr<std::vector<std::pair<std::string, callbacks::Event>>>
CallbackGrpcService::ReadDeadLetters(uint64_t sdkappid) {
  // Bounded: an operator call must not pull a million entries at once.
  auto reply = redis_->Command({"XRANGE", callbacks::kDeadLetterStream, "-", "+", "COUNT", "10000"});
  if (!reply.ok()) return errors::Error(kInternal, "Redis is unavailable");
  std::vector<std::pair<std::string, callbacks::Event>> out;
  const redisReply* raw = reply->raw();
  for (size_t i = 0; i < raw->elements; ++i) {
    const redisReply* entry = raw->element[i];
    if (entry->elements < 2 || entry->element[1]->elements < 2) continue;
    const redisReply* value = entry->element[1]->element[1];  // field "m"
    auto event = callbacks::DecodeEvent(std::string(value->str, value->len));
    if (!event.ok() || (sdkappid != 0 && event->sdkappid != sdkappid)) continue;
    out.emplace_back(std::string(entry->element[0]->str, entry->element[0]->len),
                     std::move(*event));
  }
  return out;
}

grpc::Status CallbackGrpcService::ListDeadLetters(grpc::ServerContext*,
                                                  const v1::ListDeadLettersRequest* request,
                                                  v1::ListDeadLettersResponse* response) {
  uint32_t limit = request->limit() == 0 ? 100 : request->limit();
  auto letters = ReadDeadLetters(request->sdkappid());
  if (!letters.ok()) return errors::ToGrpc(letters.status());
  for (const auto& [id, event] : *letters) {
    if (static_cast<uint32_t>(response->dead_letters_size()) >= limit) break;
    auto* out = response->add_dead_letters();
    out->set_id(id);
    out->set_sdkappid(event.sdkappid);
    out->set_command(event.command);
    out->set_payload_json(event.payload_json);
    out->set_attempts(event.attempts);
    out->set_last_error(event.last_error);
    int64_t ms = 0;
    (void)absl::SimpleAtoi(id.substr(0, id.find('-')), &ms);
    out->set_failed_at_ms(ms);
  }
  return grpc::Status::OK;
}

grpc::Status CallbackGrpcService::ReplayDeadLetters(grpc::ServerContext*,
                                                    const v1::ReplayDeadLettersRequest* request,
                                                    v1::ReplayDeadLettersResponse* response) {
  auto letters = ReadDeadLetters(request->sdkappid());
  if (!letters.ok()) return errors::ToGrpc(letters.status());
  std::set<std::string> wanted(request->ids().begin(), request->ids().end());
  for (auto& [id, event] : *letters) {
    if (!wanted.empty() && !wanted.count(id)) continue;
    event.attempts = 0;
    event.last_error.clear();
    // Queue first, then delete: a crash in between replays twice, never zero times.
    auto added = redis_->Command({"XADD", callbacks::kQueueStream, "*", "m",
                                  callbacks::EncodeEvent(event)});
    if (!added.ok()) return errors::ToGrpc(errors::Error(kInternal, "Redis is unavailable"));
    (void)redis_->Command({"XDEL", callbacks::kDeadLetterStream, id});
    response->set_replayed(response->replayed() + 1);
  }
  return grpc::Status::OK;
}

}  // namespace parley::callback
