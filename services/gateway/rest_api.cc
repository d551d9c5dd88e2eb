#include "rest_api.h"

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "parley/callbacks/callbacks.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/protojson/protojson.h"

namespace parley::gateway {
namespace {

// Tencent's "REST call frequency over limit".
constexpr int32_t kOverLimit = 60007;
constexpr int64_t kDefaultRestLimit = 200;
constexpr int64_t kAlertEveryMs = 60000;

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::Status ParseJsonBody(const std::string& body, google::protobuf::Message* message,
                           const ServiceCodes& codes) {
  // Tencent clients send fields we don't model.
  auto status = protojson::Parse(body, message, {/*ignore_unknown_fields=*/true});
  if (status.ok()) {
    // PostgreSQL text holds no NUL: refused here, as a parameter error, but
    // in message bodies, which are stored as escaped JSON, as they came.
    std::string nul = protojson::FindNul(*message, {"msg_body"});
    if (nul.empty()) return absl::OkStatus();
    return errors::Error(codes.invalid_param,
                         absl::StrCat("invalid request field: ", nul, " contains a NUL character"));
  }
  // The body is known to be valid JSON, so this is a field of the wrong type.
  return errors::Error(codes.invalid_param,
                       absl::StrCat("invalid request field: ", status.message()));
}

std::string PrintJson(const google::protobuf::Message& message) {
  return protojson::Print(message, {/*print_defaults=*/true});  // Tencent shows empty lists and zeros
}

std::string Envelope(int32_t code, const std::string& info, const std::string& json) {
  std::string out = absl::StrCat("{\"ActionStatus\":\"", code == 0 ? "OK" : "FAIL",
                                 "\",\"ErrorInfo\":", nlohmann::json(info).dump(
                                     -1, ' ', false, nlohmann::json::error_handler_t::replace),
                                 ",\"ErrorCode\":", code);
  // `json` is "{}" or "{...}": splice its members after the envelope's.
  if (json.size() > 2 && json.front() == '{') {
    absl::StrAppend(&out, ",", absl::string_view(json).substr(1));
  } else {
    out += "}";
  }
  return out;
}

struct RestApi::Pending {
  http::Responder respond;
  rpc::Caller caller;
  std::string usersig;
  std::string service;
  std::string command;
  std::string body;
  ServiceCodes codes;
  std::chrono::steady_clock::time_point start;
};

RestApi::RestApi(std::shared_ptr<v1::AuthService::StubInterface> auth, RestOptions options)
    : auth_(std::move(auth)), options_(options) {}

void RestApi::AddService(const std::string& service, ServiceCodes codes) {
  services_[service] = codes;
}

void RestApi::AddRoute(const std::string& service, const std::string& command, Route route) {
  routes_[service + "/" + command] = std::move(route);
}

bool RestApi::CallForUser(const rpc::Caller& caller, const std::string& service,
                          const std::string& command, const std::string& body,
                          RouteDone done) const {
  if (!user_services_.count(service) && !user_services_.count(service + "/" + command)) {
    return false;
  }
  auto route = routes_.find(service + "/" + command);
  if (route == routes_.end()) return false;
  auto codes = services_.find(service);
  route->second(caller, body, codes == services_.end() ? ServiceCodes{} : codes->second,
                std::move(done));
  return true;
}

http::Response RestApi::BodyTooLarge(size_t limit) {
  return {200, "application/json",
          Envelope(errors::kBodyTooLarge,
                   absl::StrCat("request body is larger than ", limit, " bytes"), ""),
          true};
}

void RestApi::Finish(const Pending& pending, int32_t code, const std::string& info,
                     const std::string& json) const {
  requests_total_.fetch_add(1);
  bool known = routes_.count(pending.service + "/" + pending.command) > 0;
  std::string endpoint = known ? pending.service + "/" + pending.command : "unknown";
  auto& registry = metrics::Registry::Default();
  registry
      .GetCounter("parley_rest_requests_total", "REST calls by endpoint and ErrorCode",
                  {{"endpoint", endpoint}, {"code", std::to_string(code)}})
      .Increment();
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - pending.start;
  registry.GetHistogram("parley_rest_request_seconds", "REST latency", {{"endpoint", endpoint}})
      .Observe(elapsed.count());
  if (code != 0) {
    log::Info("rest_error", {{"endpoint", endpoint},
                             {"sdkappid", pending.caller.sdkappid},
                             {"identifier", pending.caller.identifier},
                             {"code", code},
                             {"info", info}});
  }
  pending.respond({200, "application/json", Envelope(code, info, json), false});
}

std::shared_ptr<RestApi::Pending> RestApi::NewPending(http::Responder respond) const {
  auto pending = std::make_shared<Pending>();
  pending->respond = std::move(respond);
  pending->start = std::chrono::steady_clock::now();
  return pending;
}

void RestApi::Handle(const http::Request& request, http::Responder respond) {
  auto pending = NewPending(std::move(respond));
  if (!ParseHead(request, *pending)) return;
  pending->body = request.body;
  Authenticate(std::move(pending), [this](std::shared_ptr<Pending> p) { Authenticated(std::move(p)); });
}

void RestApi::CheckHead(const http::Request& head, http::HeadDecision decide) {
  auto shared = std::make_shared<http::HeadDecision>(std::move(decide));
  auto pending = NewPending([shared](http::Response response) { (*shared)(std::move(response)); });
  if (!ParseHead(head, *pending)) return;
  // Passed: Handle() runs on the whole request and finds the sig cached.
  Authenticate(std::move(pending), [shared](std::shared_ptr<Pending>) { (*shared)(std::nullopt); });
}

bool RestApi::ParseHead(const http::Request& request, Pending& pending) const {
  auto fail = [&](int32_t code, const std::string& info) {
    Finish(pending, code, info, "");
    return false;
  };
  std::vector<std::string> parts = absl::StrSplit(request.path, '/');
  // "/v4/svc/cmd" splits into "", "v4", "svc", "cmd".
  if (parts.size() != 4 || parts[1] != "v4" || parts[2].empty() || parts[3].empty()) {
    return fail(errors::kBadResource, "URL path must be /v4/<service>/<command>");
  }
  pending.service = parts[2];
  pending.command = parts[3];
  if (auto it = services_.find(pending.service); it != services_.end()) {
    pending.codes = it->second;
  }
  if (request.method != "POST") return fail(errors::kServiceTimeout, "only POST is allowed");

  auto params = http::ParseQuery(request.query);
  auto param = [&](const char* name) -> const std::string* {
    auto it = params.find(name);
    return it == params.end() ? nullptr : &it->second;
  };
  const std::string* sdkappid = param("sdkappid");
  if (sdkappid == nullptr || sdkappid->empty()) {
    return fail(errors::kMissingSdkAppId, "sdkappid is missing from the URL");
  }
  if (!absl::SimpleAtoi(*sdkappid, &pending.caller.sdkappid) || pending.caller.sdkappid == 0 ||
      pending.caller.sdkappid > 0xFFFFFFFFULL) {
    return fail(errors::kSdkAppIdInvalid, "sdkappid is not a valid SDKAppID");
  }
  const std::string* identifier = param("identifier");
  if (identifier == nullptr || identifier->empty()) {
    return fail(errors::kBadUrlParams, "identifier is missing from the URL");
  }
  pending.caller.identifier = *identifier;
  pending.caller.is_admin = true;  // REST callers are app admins (checked below)
  pending.caller.client_ip = request.remote_ip;
  const std::string* usersig = param("usersig");
  if (usersig == nullptr || usersig->empty()) {
    return fail(errors::kSigEmpty, "usersig is missing from the URL");
  }
  pending.usersig = *usersig;
  if (const std::string* type = param("contenttype"); type != nullptr && *type != "json") {
    return fail(errors::kBadUrlParams, "contenttype must be json");
  }
  uint32_t random = 0;
  if (const std::string* r = param("random"); r != nullptr && !absl::SimpleAtoi(*r, &random)) {
    return fail(errors::kBadUrlParams, "random must be an integer from 0 to 4294967295");
  }
  return true;
}

void RestApi::Authenticate(std::shared_ptr<Pending> pending,
                           std::function<void(std::shared_ptr<Pending>)> next) {
  std::string cache_key = absl::StrCat(pending->caller.sdkappid, "\n",
                                       pending->caller.identifier, "\n", pending->usersig);
  if (auth_cache_.Get(cache_key, NowSeconds())) return next(std::move(pending));

  auto call = rpc::NewAsyncCall<v1::AuthenticateRequest, v1::AuthenticateResponse>(
      nullptr, options_.rpc_deadline);
  call->request.set_sdkappid(pending->caller.sdkappid);
  call->request.set_identifier(pending->caller.identifier);
  call->request.set_usersig(pending->usersig);
  call->request.set_require_admin(true);
  auth_->async()->Authenticate(
      call->context.get(), &call->request, &call->response,
      [this, call, pending, cache_key, next = std::move(next)](grpc::Status status) {
        if (!status.ok()) {
          absl::Status error = errors::FromGrpc(status);
          int32_t code = errors::TencentCode(error, pending->codes.internal);
          if (code == errors::kRequiresAdmin) code = pending->codes.requires_admin;
          return Finish(*pending, code, std::string(error.message()), "");
        }
        int64_t now = NowSeconds();
        auth_cache_.Put(cache_key, true,
                        std::min<int64_t>(call->response.sig_expires_at() + 1,
                                          now + options_.auth_cache_ttl.count()));
        if (call->response.rest_calls_per_second() > 0) {
          app_limits_.Put(pending->caller.sdkappid, call->response.rest_calls_per_second(),
                          now + options_.auth_cache_ttl.count());
        }
        next(pending);
      });
}

int64_t RestApi::CommandLimit(const std::string& service, const std::string& command,
                              int64_t app_limit) {
  // Tencent limits its all-member-push attribute and tag commands to 100/s.
  static const std::set<std::string> kHundred = {
      "im_get_attr_name", "im_set_attr_name", "im_get_attr", "im_set_attr", "im_remove_attr",
      "im_get_tag",       "im_add_tag",       "im_remove_tag", "im_remove_all_tags"};
  if (service == "all_member_push" && kHundred.count(command)) return std::min<int64_t>(app_limit, 100);
  return app_limit;
}

bool RestApi::WithinLimit(const Pending& pending) {
  if (limiter_ == nullptr) return true;
  int64_t app_limit =
      app_limits_.Get(pending.caller.sdkappid, NowSeconds()).value_or(kDefaultRestLimit);
  int64_t limit = CommandLimit(pending.service, pending.command, app_limit);
  auto result = limiter_->Acquire(
      absl::StrCat(pending.caller.sdkappid, ":", pending.service, "/", pending.command), limit);
  // Tencent warns the backend once a command passes 80% of its limit.
  if (result.seen * 5 >= limit * 4) MaybeAlert(pending, result.seen, limit);
  if (result.allowed) return true;
  Finish(pending, kOverLimit,
         absl::StrCat(pending.service, "/", pending.command, " is limited to ", limit,
                      " calls per second for this app; retry later"),
         "");
  return false;
}

void RestApi::MaybeAlert(const Pending& pending, int64_t seen, int64_t limit) {
  std::string key = absl::StrCat(pending.caller.sdkappid, " ", pending.service, "/",
                                 pending.command);
  int64_t now = NowMillis();
  {
    std::lock_guard lock(alerts_mu_);
    int64_t& last = last_alert_ms_[key];
    if (now - last < kAlertEveryMs) return;
    last = now;
    if (last_alert_ms_.size() > 100000) last_alert_ms_.clear();  // bounded
  }
  // Once a minute per app and command across every gateway.
  auto claimed = redis_->Command({"SET", absl::StrCat("parley:rl:alert:{", key, "}"), "1", "NX",
                                  "PX", std::to_string(kAlertEveryMs)});
  if (!claimed.ok() || claimed->raw()->type == REDIS_REPLY_NIL) return;
  nlohmann::ordered_json payload = {{"ServiceName", pending.service},
                                    {"Command", pending.command},
                                    {"Request", seen},
                                    {"Limit", limit}};
  // parley-callback drops it unless the app enabled Alert.RequestOverLimit.
  callbacks::Event event{pending.caller.sdkappid, "Alert.RequestOverLimit", payload.dump(),
                         "RESTAPI", pending.caller.client_ip, now, 0, ""};
  (void)redis_->Command({"XADD", callbacks::kQueueStream, "MAXLEN", "~", "10000000", "*", "m",
                         callbacks::EncodeEvent(event)});
  log::Warn("rest_over_limit_alert", {{"sdkappid", pending.caller.sdkappid},
                                      {"endpoint", pending.service + "/" + pending.command},
                                      {"seen", seen},
                                      {"limit", limit}});
}

void RestApi::Authenticated(std::shared_ptr<Pending> pending) {
  auto route = routes_.find(pending->service + "/" + pending->command);
  if (route == routes_.end()) {
    return Finish(*pending, errors::kBadResource,
                  absl::StrCat("unknown command ", pending->service, "/", pending->command), "");
  }
  if (!WithinLimit(*pending)) return;
  const std::string& body = pending->body;
  if (body.empty()) {
    return Finish(*pending, pending->codes.json_parse, "request body is empty; send {}", "");
  }
  // Syntax first, so malformed JSON and wrong field types get distinct codes.
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Finish(*pending, pending->codes.json_parse, "request body is not valid JSON", "");
  }
  if (!parsed.is_object()) {
    return Finish(*pending, pending->codes.json_parse, "request body must be a JSON object", "");
  }
  route->second(pending->caller, body, pending->codes, [this, pending](RouteResult result) {
    if (!result.status.ok()) {
      return Finish(*pending, errors::TencentCode(result.status, pending->codes.internal),
                    std::string(result.status.message()), "");
    }
    Finish(*pending, 0, "", result.json);
  });
}

}  // namespace parley::gateway
