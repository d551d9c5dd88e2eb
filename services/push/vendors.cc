#include "vendors.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "jwt.h"
#include "parley/redis/streams.h"

namespace parley::push {
namespace {

using Json = nlohmann::json;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Hex(const unsigned char* bytes, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

std::string DigestHex(const EVP_MD* md, const std::string& input) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(input.data(), input.size(), out, &n, md, nullptr);
  return Hex(out, n);
}

// One key per credential and secret: a changed secret gets a new token.
std::string CacheKey(const v1::PushCredential& c) {
  return absl::StrCat(c.channel(), "|", c.business_id(), "|",
                      DigestHex(EVP_sha256(), c.SerializeAsString()));
}

std::string StructString(const google::protobuf::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end()) return "";
  if (it->second.has_string_value()) return it->second.string_value();
  if (it->second.has_number_value()) return std::to_string(static_cast<int64_t>(it->second.number_value()));
  return "";
}

SendResult Result(Outcome outcome, long status, std::string reason,
                  const HttpResponse* response = nullptr) {
  SendResult r;
  r.outcome = outcome;
  r.http_status = static_cast<int>(status);
  r.reason = std::move(reason);
  if (response) {
    auto it = response->headers.find("retry-after");
    if (it != response->headers.end()) r.retry_after = ParseRetryAfter(it->second);
  }
  return r;
}

// No answer, 429 or 5xx: retried, whatever the body says.
std::optional<SendResult> TransportFailure(const HttpResponse& response) {
  if (response.status == 0) return Result(Outcome::kRetry, 0, "NoAnswer", &response);
  if (response.status == 429 || response.status >= 500) {
    return Result(Outcome::kRetry, response.status,
                  response.status == 429 ? "TooManyRequests" : "Unavailable", &response);
  }
  return std::nullopt;
}

Prepared Done(SendResult result) {
  Prepared p;
  p.result = std::move(result);
  return p;
}

// A failure to get the vendor's access token, as a send result.
SendResult TokenFailure(const absl::Status& status) {
  return Result(absl::IsUnavailable(status) ? Outcome::kRetry : Outcome::kRejected, 0,
                std::string(status.message()));
}

// What a vendor that answers with a number in its JSON body (`field`) meant:
// `ok` sent, `auth_expired` its access token is gone (fetched anew, and the
// send retried), `invalid_token` the device token is gone. No answer, 429
// and 5xx are retried whatever the body says.
struct BodyCodes {
  const char* field;
  int64_t ok;
  int64_t auth_expired;  // -1: the vendor has none
  int64_t invalid_token;
};

SendResult ByBodyCode(const HttpResponse& response, const BodyCodes& codes, TokenCache* tokens,
                      const std::string& key) {
  if (auto failure = TransportFailure(response)) return *failure;
  Json answer = Json::parse(response.body, nullptr, false);
  int64_t code = answer.is_object() && answer.contains(codes.field) &&
                         answer[codes.field].is_number()
                     ? answer[codes.field].get<int64_t>()
                     : -1;
  if (response.status == 200 && code == codes.ok) return Result(Outcome::kSent, 200, "");
  if (codes.auth_expired >= 0 && code == codes.auth_expired && tokens != nullptr) {
    tokens->Drop(key);
    return Result(Outcome::kRetry, response.status, std::to_string(code));
  }
  if (code == codes.invalid_token) {
    return Result(Outcome::kInvalidToken, response.status, std::to_string(code));
  }
  return Result(Outcome::kRejected, response.status, std::to_string(code));
}

// POSTs a token request and reads `field` and its lifetime from the JSON answer.
absl::StatusOr<TokenCache::Fetched> FetchToken(const VendorHttp* http, HttpRequest request,
                                               const std::string& field,
                                               const std::string& lifetime_field,
                                               std::chrono::seconds default_lifetime) {
  HttpResponse response = http->Send(request);
  if (response.status == 0 || response.status == 429 || response.status >= 500) {
    return absl::UnavailableError("AuthUnavailable");
  }
  Json body = Json::parse(response.body, nullptr, false);
  const Json* holder = &body;
  if (body.is_object() && body.contains("data") && body["data"].is_object()) holder = &body["data"];
  if (response.status != 200 || !holder->is_object() || !holder->contains(field) ||
      !(*holder)[field].is_string()) {
    return absl::PermissionDeniedError("AuthRejected");
  }
  std::chrono::seconds lifetime = default_lifetime;
  if (!lifetime_field.empty() && holder->contains(lifetime_field) &&
      (*holder)[lifetime_field].is_number_integer()) {
    lifetime = std::chrono::seconds((*holder)[lifetime_field].get<int64_t>());
  }
  return TokenCache::Fetched{(*holder)[field].get<std::string>(), lifetime};
}

// ---------------------------------------------------------------- APNs

class Apns : public Vendor {
 public:
  Apns(const VendorHttp* http, const VendorEndpoints& endpoints)
      : http_(http), production_(endpoints.Get("apns")), sandbox_(endpoints.Get("apns_sandbox")) {}

  Prepared Prepare(const v1::PushCredential& c, const std::string& token,
                   const v1::Notification& n) override {
    Prepared p;
    HttpRequest& request = p.request;
    request.http2 = true;
    request.url = absl::StrCat(c.environment() == "sandbox" ? sandbox_ : production_,
                               "/3/device/", token);
    request.headers = {"content-type: application/json", "apns-topic: " + c.bundle_id(),
                       "apns-push-type: alert", "apns-priority: 10"};
    if (!n.msg_key().empty() && n.msg_key().size() <= 64) {
      request.headers.push_back("apns-collapse-id: " + n.msg_key());
    }
    std::string key = CacheKey(c);
    if (c.certificate().empty()) {
      auto jwt = jwts_.Get(key, [&]() -> absl::StatusOr<TokenCache::Fetched> {
        Json header = {{"alg", "ES256"}, {"kid", c.key_id()}};
        Json claims = {{"iss", c.team_id()}, {"iat", NowSeconds()}};
        auto signed_jwt = SignJwt(JwtAlg::kES256, header.dump(), claims.dump(), c.private_key());
        if (!signed_jwt.ok()) return signed_jwt.status();
        // Apple takes a token for an hour and refuses a new one more often
        // than every 20 minutes: keep each for 40.
        return TokenCache::Fetched{*signed_jwt, std::chrono::minutes(45)};
      });
      if (!jwt.ok()) return Done(TokenFailure(jwt.status()));
      request.headers.push_back("authorization: bearer " + *jwt);
    } else {
      request.client_cert_pem = c.certificate();
      request.client_key_pem = c.private_key();
    }
    request.body = ApnsPayload(n);
    p.interpret = [this, key](const HttpResponse& response) { return Interpret(response, key); };
    return p;
  }

 private:
  SendResult Interpret(const HttpResponse& response, const std::string& key) {
    if (response.status == 200) return Result(Outcome::kSent, 200, "");
    Json body = Json::parse(response.body, nullptr, false);
    std::string reason = body.is_object() ? body.value("reason", "") : "";
    if (auto failure = TransportFailure(response)) {
      if (!reason.empty()) failure->reason = reason;
      return *failure;
    }
    if (response.status == 410 || reason == "BadDeviceToken" || reason == "Unregistered" ||
        reason == "DeviceTokenNotForTopic") {
      return Result(Outcome::kInvalidToken, response.status, reason.empty() ? "Unregistered" : reason);
    }
    if (reason == "ExpiredProviderToken" || reason == "InvalidProviderToken") {
      jwts_.Drop(key);
      return Result(reason == "ExpiredProviderToken" ? Outcome::kRetry : Outcome::kRejected,
                    response.status, reason);
    }
    return Result(Outcome::kRejected, response.status, reason.empty() ? "Rejected" : reason);
  }

  const VendorHttp* http_;
  std::string production_, sandbox_;
  TokenCache jwts_;
};

// ---------------------------------------------------------------- FCM

class Fcm : public Vendor {
 public:
  Fcm(const VendorHttp* http, const VendorEndpoints& endpoints)
      : http_(http), base_(endpoints.Get("fcm")) {}

  Prepared Prepare(const v1::PushCredential& c, const std::string& token,
                   const v1::Notification& n) override {
    Json account = Json::parse(c.service_account(), nullptr, false);
    if (!account.is_object()) return Done(Result(Outcome::kRejected, 0, "BadServiceAccount"));
    std::string key = CacheKey(c);
    auto access = tokens_.Get(key, [&]() -> absl::StatusOr<TokenCache::Fetched> {
      std::string token_uri = account.value("token_uri", "");
      int64_t now = NowSeconds();
      Json header = {{"alg", "RS256"}, {"typ", "JWT"}, {"kid", account.value("private_key_id", "")}};
      Json claims = {{"iss", account.value("client_email", "")},
                     {"scope", "https://www.googleapis.com/auth/firebase.messaging"},
                     {"aud", token_uri},
                     {"iat", now},
                     {"exp", now + 3600}};
      auto assertion = SignJwt(JwtAlg::kRS256, header.dump(), claims.dump(),
                               account.value("private_key", ""));
      if (!assertion.ok()) return assertion.status();
      HttpRequest request;
      request.url = token_uri;
      request.headers = {"content-type: application/x-www-form-urlencoded"};
      request.body = FormEncode({{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
                                 {"assertion", *assertion}});
      return FetchToken(http_, request, "access_token", "expires_in", std::chrono::seconds(3600));
    });
    if (!access.ok()) return Done(TokenFailure(access.status()));
    Json message = {{"token", token}, {"notification", {{"title", n.title()}, {"body", n.body()}}}};
    Json data = Json::object();
    if (!n.ext().empty()) data["ext"] = n.ext();
    if (!data.empty()) message["data"] = data;
    Json android_notification = Json::object();
    const auto& info = n.android_info();
    if (!StructString(info, "GoogleChannelID").empty()) {
      android_notification["channel_id"] = StructString(info, "GoogleChannelID");
    }
    if (!StructString(info, "GoogleImage").empty()) {
      android_notification["image"] = StructString(info, "GoogleImage");
    }
    std::string sound = StructString(info, "Sound");
    if (!sound.empty()) android_notification["sound"] = sound;
    if (n.has_badge()) android_notification["notification_count"] = n.badge();
    if (!android_notification.empty()) message["android"] = {{"notification", android_notification}};
    if (n.has_badge()) message["apns"] = {{"payload", {{"aps", {{"badge", n.badge()}}}}}};
    Prepared p;
    HttpRequest& request = p.request;
    request.http2 = true;
    request.url = absl::StrCat(base_, "/v1/projects/", account.value("project_id", ""),
                               "/messages:send");
    request.headers = {"content-type: application/json", "authorization: Bearer " + *access};
    request.body = Json({{"message", message}}).dump();
    p.interpret = [this, key](const HttpResponse& response) { return Interpret(response, key); };
    return p;
  }

 private:
  SendResult Interpret(const HttpResponse& response, const std::string& key) {
    if (response.status == 200) return Result(Outcome::kSent, 200, "");
    Json body = Json::parse(response.body, nullptr, false);
    std::string status;
    std::string error_code;
    if (body.is_object() && body.contains("error") && body["error"].is_object()) {
      status = body["error"].value("status", "");
      if (body["error"].contains("details") && body["error"]["details"].is_array()) {
        for (const auto& d : body["error"]["details"]) {
          if (d.is_object() && d.contains("errorCode") && d["errorCode"].is_string()) {
            error_code = d["errorCode"].get<std::string>();
          }
        }
      }
    }
    std::string reason = !error_code.empty() ? error_code : status;
    if (response.status == 401) {
      tokens_.Drop(key);
      return Result(Outcome::kRetry, 401, "UNAUTHENTICATED");
    }
    if (auto failure = TransportFailure(response)) {
      if (!reason.empty()) failure->reason = reason;
      return *failure;
    }
    if (response.status == 404 || error_code == "UNREGISTERED" ||
        error_code == "SENDER_ID_MISMATCH") {
      return Result(Outcome::kInvalidToken, response.status, reason.empty() ? "UNREGISTERED" : reason);
    }
    return Result(Outcome::kRejected, response.status, reason.empty() ? "Rejected" : reason);
  }

  const VendorHttp* http_;
  std::string base_;
  TokenCache tokens_;
};

// ---------------------------------------------------------------- Huawei and Honor

// Both take OAuth2 client credentials and answer with a code in the body
// (Honor descends from Huawei's Push Kit and keeps its codes).
class HuaweiFamily : public Vendor {
 public:
  HuaweiFamily(const VendorHttp* http, std::string auth_url, std::string send_base, bool honor)
      : http_(http), auth_url_(std::move(auth_url)), send_base_(std::move(send_base)), honor_(honor) {}

  Prepared Prepare(const v1::PushCredential& c, const std::string& token,
                   const v1::Notification& n) override {
    std::string key = CacheKey(c);
    auto access = tokens_.Get(key, [&]() -> absl::StatusOr<TokenCache::Fetched> {
      HttpRequest request;
      request.url = auth_url_;
      request.headers = {"content-type: application/x-www-form-urlencoded"};
      request.body = FormEncode({{"grant_type", "client_credentials"},
                                 {"client_id", c.app_id()},
                                 {"client_secret", c.app_secret()}});
      return FetchToken(http_, request, "access_token", "expires_in", std::chrono::seconds(3600));
    });
    if (!access.ok()) return Done(TokenFailure(access.status()));
    const auto& info = n.android_info();
    Json click = {{"type", 3}};
    Json notification = {{"title", n.title()}, {"body", n.body()}};
    Json android_notification = {{"title", n.title()}, {"body", n.body()}};
    Prepared p;
    HttpRequest& request = p.request;
    request.headers = {"content-type: application/json", "authorization: Bearer " + *access};
    Json body;
    if (honor_) {
      android_notification["clickAction"] = click;
      if (!StructString(info, "HonorImportance").empty()) {
        android_notification["importance"] = StructString(info, "HonorImportance");
      }
      if (!StructString(info, "HonorImage").empty()) notification["image"] = StructString(info, "HonorImage");
      if (n.has_badge()) android_notification["badge"] = {{"setNum", n.badge()}};
      body = {{"notification", notification},
              {"android", {{"notification", android_notification}}},
              {"token", {token}}};
      if (!n.ext().empty()) body["data"] = n.ext();
      request.url = absl::StrCat(send_base_, "/api/v1/", c.app_id(), "/sendMessage");
      request.headers.push_back(absl::StrCat("timestamp: ", NowSeconds() * 1000));
    } else {
      android_notification["click_action"] = click;
      if (!StructString(info, "HuaWeiChannelID").empty()) {
        android_notification["channel_id"] = StructString(info, "HuaWeiChannelID");
      }
      if (!StructString(info, "HuaWeiImportance").empty()) {
        android_notification["importance"] = StructString(info, "HuaWeiImportance");
      }
      if (!StructString(info, "HuaWeiCategory").empty()) {
        android_notification["category"] = StructString(info, "HuaWeiCategory");
      }
      if (!StructString(info, "HuaWeiImage").empty()) {
        android_notification["image"] = StructString(info, "HuaWeiImage");
      }
      if (n.has_badge()) android_notification["badge"] = {{"set_num", n.badge()}};
      Json message = {{"notification", notification},
                      {"android", {{"notification", android_notification}}},
                      {"token", {token}}};
      if (!n.ext().empty()) message["data"] = n.ext();
      body = {{"validate_only", false}, {"message", message}};
      request.url = absl::StrCat(send_base_, "/v1/", c.app_id(), "/messages:send");
    }
    request.body = body.dump();
    p.interpret = [this, key](const HttpResponse& response) { return Interpret(response, key); };
    return p;
  }

 private:
  SendResult Interpret(const HttpResponse& response, const std::string& key) {
    if (auto failure = TransportFailure(response)) return *failure;
    Json answer = Json::parse(response.body, nullptr, false);
    std::string code;
    if (answer.is_object() && answer.contains("code")) {
      code = answer["code"].is_string() ? answer["code"].get<std::string>()
                                        : answer["code"].dump();
    }
    if (code == "80000000" || code == "200") return Result(Outcome::kSent, response.status, "");
    if (code == "80300007" || code == "80100000") {
      return Result(Outcome::kInvalidToken, response.status, code);
    }
    if (code == "80200003" || code == "80200001" || response.status == 401) {
      tokens_.Drop(key);
      return Result(Outcome::kRetry, response.status, code.empty() ? "AuthExpired" : code);
    }
    if (code == "81000001") return Result(Outcome::kRetry, response.status, code);
    return Result(Outcome::kRejected, response.status, code.empty() ? "Rejected" : code);
  }

  const VendorHttp* http_;
  std::string auth_url_, send_base_;
  bool honor_;
  TokenCache tokens_;
};

// ---------------------------------------------------------------- Xiaomi

class Xiaomi : public Vendor {
 public:
  // Xiaomi needs no access token: a key in each request, nothing fetched.
  explicit Xiaomi(const VendorEndpoints& endpoints) : base_(endpoints.Get("xiaomi")) {}

  Prepared Prepare(const v1::PushCredential& c, const std::string& token,
                   const v1::Notification& n) override {
    std::vector<std::pair<std::string, std::string>> form = {
        {"registration_id", token},   {"restricted_package_name", c.package_name()},
        {"title", n.title()},         {"description", n.body()},
        {"notify_type", "-1"},        {"pass_through", "0"},
        {"payload", n.ext()}};
    std::string channel = StructString(n.android_info(), "XiaoMiChannelID");
    if (!channel.empty()) form.push_back({"extra.channel_id", channel});
    Prepared p;
    HttpRequest& request = p.request;
    request.url = base_ + "/v3/message/regid";
    request.headers = {"content-type: application/x-www-form-urlencoded",
                       "authorization: key=" + c.app_secret()};
    request.body = FormEncode(form);
    // 20301: the registration id is not valid for the package.
    p.interpret = [](const HttpResponse& response) {
      return ByBodyCode(response, {"code", 0, -1, 20301}, nullptr, "");
    };
    return p;
  }

 private:
  std::string base_;
};

// ---------------------------------------------------------------- OPPO

class Oppo : public Vendor {
 public:
  Oppo(const VendorHttp* http, const VendorEndpoints& endpoints)
      : http_(http), base_(endpoints.Get("oppo")) {}

  Prepared Prepare(const v1::PushCredential& c, const std::string& token,
                   const v1::Notification& n) override {
    std::string key = CacheKey(c);
    auto auth = tokens_.Get(key, [&]() -> absl::StatusOr<TokenCache::Fetched> {
      std::string timestamp = std::to_string(NowSeconds() * 1000);
      HttpRequest request;
      request.url = base_ + "/server/v1/auth";
      request.headers = {"content-type: application/x-www-form-urlencoded"};
      request.body = FormEncode(
          {{"app_key", c.app_key()},
           {"timestamp", timestamp},
           {"sign", DigestHex(EVP_sha256(), c.app_key() + timestamp + c.app_secret())}});
      // Valid for 24 hours.
      return FetchToken(http_, request, "auth_token", "", std::chrono::hours(24));
    });
    if (!auth.ok()) return Done(TokenFailure(auth.status()));
    Json notification = {{"title", n.title()}, {"content", n.body()}, {"click_action_type", 0}};
    std::string channel = StructString(n.android_info(), "OPPOChannelID");
    if (!channel.empty()) notification["channel_id"] = channel;
    if (!n.ext().empty()) notification["action_parameters"] = n.ext();
    Json message = {{"target_type", 2}, {"target_value", token}, {"notification", notification}};
    Prepared p;
    HttpRequest& request = p.request;
    request.url = base_ + "/server/v1/message/notification/unicast";
    request.headers = {"content-type: application/x-www-form-urlencoded", "auth_token: " + *auth};
    request.body = FormEncode({{"message", message.dump()}});
    // 11: the auth_token expired; 10000: the registration id is invalid.
    p.interpret = [this, key](const HttpResponse& response) {
      return ByBodyCode(response, {"code", 0, 11, 10000}, &tokens_, key);
    };
    return p;
  }

 private:
  const VendorHttp* http_;
  std::string base_;
  TokenCache tokens_;
};

// ---------------------------------------------------------------- vivo

class Vivo : public Vendor {
 public:
  Vivo(const VendorHttp* http, const VendorEndpoints& endpoints)
      : http_(http), base_(endpoints.Get("vivo")) {}

  Prepared Prepare(const v1::PushCredential& c, const std::string& token,
                   const v1::Notification& n) override {
    std::string key = CacheKey(c);
    auto auth = tokens_.Get(key, [&]() -> absl::StatusOr<TokenCache::Fetched> {
      std::string timestamp = std::to_string(NowSeconds() * 1000);
      HttpRequest request;
      request.url = base_ + "/message/auth";
      request.headers = {"content-type: application/json"};
      request.body = Json({{"appId", c.app_id()},
                           {"appKey", c.app_key()},
                           {"timestamp", timestamp},
                           {"sign", DigestHex(EVP_md5(), c.app_id() + c.app_key() + timestamp +
                                                             c.app_secret())}})
                         .dump();
      return FetchToken(http_, request, "authToken", "", std::chrono::hours(24));
    });
    if (!auth.ok()) return Done(TokenFailure(auth.status()));
    Json body = {{"regId", token},   {"notifyType", 4}, {"title", n.title()},
                 {"content", n.body()}, {"skipType", 1},
                 {"requestId", DigestHex(EVP_sha256(), n.msg_key() + "|" + token).substr(0, 32)}};
    std::string classification = StructString(n.android_info(), "VIVOClassification");
    if (!classification.empty()) body["classification"] = std::atoi(classification.c_str());
    std::string category = StructString(n.android_info(), "VIVOCategory");
    if (!category.empty()) body["category"] = category;
    if (!n.ext().empty()) body["clientCustomMap"] = {{"ext", n.ext()}};
    Prepared p;
    HttpRequest& request = p.request;
    request.url = base_ + "/message/send";
    request.headers = {"content-type: application/json", "authToken: " + *auth};
    request.body = body.dump();
    // 10000: the authToken expired; 10302: the regId is not valid.
    p.interpret = [this, key](const HttpResponse& response) {
      return ByBodyCode(response, {"result", 0, 10000, 10302}, &tokens_, key);
    };
    return p;
  }

 private:
  const VendorHttp* http_;
  std::string base_;
  TokenCache tokens_;
};

}  // namespace

VendorEndpoints VendorEndpoints::Defaults() {
  VendorEndpoints e;
  e.urls = {{"apns", "https://api.push.apple.com"},
            {"apns_sandbox", "https://api.sandbox.push.apple.com"},
            {"fcm", "https://fcm.googleapis.com"},
            {"huawei_auth", "https://oauth-login.cloud.huawei.com/oauth2/v3/token"},
            {"huawei", "https://push-api.cloud.huawei.com"},
            {"honor_auth", "https://iam.developer.honor.com/auth/token"},
            {"honor", "https://push-api.cloud.honor.com"},
            {"xiaomi", "https://api.xmpush.xiaomi.com"},
            {"oppo", "https://api.push.oppomobile.com"},
            {"vivo", "https://api-push.vivo.com.cn"}};
  return e;
}

absl::Status VendorEndpoints::Override(const std::string& spec) {
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(absl::StripAsciiWhitespace(item), absl::MaxSplits('=', 1));
    kv.first = std::string(absl::StripAsciiWhitespace(kv.first));
    kv.second = std::string(absl::StripAsciiWhitespace(kv.second));
    if (!urls.count(kv.first) || kv.second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown vendor endpoint: ", kv.first));
    }
    urls[kv.first] = kv.second;
  }
  return absl::OkStatus();
}

std::string VendorEndpoints::Get(const std::string& name) const {
  auto it = urls.find(name);
  return it == urls.end() ? "" : it->second;
}

absl::StatusOr<std::string> TokenCache::Get(
    const std::string& key, const std::function<absl::StatusOr<Fetched>()>& fetch) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && now < it->second.refresh_at) return it->second.token;
  }
  // Fetched outside the lock: two workers may both fetch once; both tokens
  // are valid.
  auto fetched = fetch();
  if (!fetched.ok()) return fetched.status();
  auto margin = std::min<std::chrono::seconds>(std::chrono::minutes(5), fetched->lifetime / 2);
  std::lock_guard lock(mu_);
  if (entries_.size() > 10000) entries_.clear();  // credentials in use are far fewer
  entries_[key] = {fetched->token, now + fetched->lifetime - margin};
  return fetched->token;
}

void TokenCache::Drop(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

std::string ApnsPayload(const v1::Notification& n) {
  const auto& info = n.apns_info();
  Json alert = {{"title", n.title()}, {"body", n.body()}};
  std::string subtitle = StructString(info, "SubTitle");
  if (!subtitle.empty()) alert["subtitle"] = subtitle;
  Json aps = {{"alert", alert}, {"sound", n.sound().empty() ? "default" : n.sound()}};
  if (n.has_badge()) aps["badge"] = n.badge();
  if (StructString(info, "MutableContent") == "1") aps["mutable-content"] = 1;
  if (StructString(info, "ContentAvailable") == "1") aps["content-available"] = 1;
  std::string level = StructString(info, "InterruptionLevel");
  if (!level.empty()) aps["interruption-level"] = level;
  Json payload = {{"aps", aps}};
  if (!n.ext().empty()) payload["ext"] = n.ext();
  std::string image = StructString(info, "Image");
  if (!image.empty()) payload["image"] = image;
  return payload.dump();
}

std::unique_ptr<Vendor> MakeVendor(const std::string& channel, const VendorHttp* http,
                                   const VendorEndpoints& e) {
  if (channel == "APNs") return std::make_unique<Apns>(http, e);
  if (channel == "FCM") return std::make_unique<Fcm>(http, e);
  if (channel == "Huawei") {
    return std::make_unique<HuaweiFamily>(http, e.Get("huawei_auth"), e.Get("huawei"), false);
  }
  if (channel == "Honor") {
    return std::make_unique<HuaweiFamily>(http, e.Get("honor_auth"), e.Get("honor"), true);
  }
  if (channel == "Xiaomi") return std::make_unique<Xiaomi>(e);
  if (channel == "OPPO") return std::make_unique<Oppo>(http, e);
  if (channel == "vivo") return std::make_unique<Vivo>(http, e);
  return nullptr;
}

}  // namespace parley::push
