// Offline push rules: notifications from messages, credential checks, vendor
// answers and retry delays, the devices that take notifications, and the
// JWTs the vendors take (verified here with OpenSSL).
#include <catch2/catch.hpp>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "jwt.h"
#include "parley/presence/devices.h"
#include "push_rules.h"
#include "vendors.h"

using namespace parley;
using namespace parley::push;

namespace {

v1::C2CMessage Message(const std::string& json) {
  v1::C2CMessage m;
  REQUIRE(google::protobuf::util::JsonStringToMessage(json, &m).ok());
  return m;
}

std::string NewKeyPem(int type) {
  EVP_PKEY* key = type == EVP_PKEY_EC ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
  REQUIRE(key != nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, n);
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

// Verifies a JWT's signature with the public half of `pem`.
bool Verifies(const std::string& jwt, const std::string& pem, bool es256) {
  std::vector<std::string> parts = absl::StrSplit(jwt, '.');
  if (parts.size() != 3) return false;
  std::string signature;
  if (!absl::WebSafeBase64Unescape(parts[2], &signature)) return false;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (es256) {
    if (signature.size() != 64) return false;
    ECDSA_SIG* sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr),
                   BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 32, 32, nullptr));
    unsigned char* der = nullptr;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    signature.assign(reinterpret_cast<char*>(der), der_len);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
  }
  std::string input = parts[0] + "." + parts[1];
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                             input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace

TEST_CASE("a one-to-one message makes its notification from OfflinePushInfo and the body", "[push]") {
  auto n = MakeC2CNotification(Message(R"({"From_Account":"alice","MsgKey":"1_2_3",
      "MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi "}},
                 {"MsgType":"TIMImageElem","MsgContent":{}}]})"));
  REQUIRE(n);
  CHECK(n->title() == "alice");
  CHECK(n->body() == "hi [Image]");
  CHECK(n->msg_key() == "1_2_3");
  CHECK_FALSE(n->has_badge());

  n = MakeC2CNotification(Message(R"({"From_Account":"alice",
      "MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"secret"}}],
      "OfflinePushInfo":{"Title":"T","Desc":"You have a message","Ext":"e",
                         "ApnsInfo":{"Sound":"a.caf","Title":"ignored"}}})"));
  REQUIRE(n);
  CHECK(n->title() == "T");
  CHECK(n->body() == "You have a message");
  CHECK(n->ext() == "e");
  CHECK(n->sound() == "a.caf");

  // ApnsInfo.Title when there is no Title; a custom element's Desc, Ext, Sound.
  n = MakeC2CNotification(Message(R"({"From_Account":"alice",
      "MsgBody":[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"x","Desc":"Call","Ext":"c","Sound":"r.caf"}}],
      "OfflinePushInfo":{"ApnsInfo":{"Title":"Apns title"}}})"));
  REQUIRE(n);
  CHECK(n->title() == "Apns title");
  CHECK(n->body() == "Call");
  CHECK(n->ext() == "c");
  CHECK(n->sound() == "r.caf");

  // Nothing to show, or PushFlag 1: no notification.
  CHECK_FALSE(MakeC2CNotification(Message(R"({"From_Account":"a",
      "MsgBody":[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"x"}}]})")));
  CHECK_FALSE(MakeC2CNotification(Message(R"({"From_Account":"a",
      "MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}],
      "OfflinePushInfo":{"PushFlag":1}})")));
  for (const auto& [type, text] : std::vector<std::pair<std::string, std::string>>{
           {"TIMLocationElem", "[Location]"}, {"TIMFaceElem", "[Expression]"},
           {"TIMSoundElem", "[Voice]"}, {"TIMFileElem", "[File]"},
           {"TIMVideoFileElem", "[Video]"}, {"TIMRelayElem", "[Chat History]"}}) {
    auto m = MakeC2CNotification(Message(R"({"From_Account":"a","MsgBody":[{"MsgType":")" + type +
                                         R"(","MsgContent":{}}]})"));
    REQUIRE(m);
    CHECK(m->body() == text);
  }
}

TEST_CASE("the APNs payload carries alert, badge, sound and ext", "[push]") {
  auto n = MakeC2CNotification(Message(R"({"From_Account":"alice",
      "MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}],
      "OfflinePushInfo":{"Ext":"{\"k\":1}","ApnsInfo":{"SubTitle":"s","MutableContent":1,
                                                       "InterruptionLevel":"time-sensitive"}}})"));
  REQUIRE(n);
  n->set_badge(4);
  auto payload = nlohmann::json::parse(ApnsPayload(*n));
  CHECK(payload["aps"]["alert"]["title"] == "alice");
  CHECK(payload["aps"]["alert"]["body"] == "hi");
  CHECK(payload["aps"]["alert"]["subtitle"] == "s");
  CHECK(payload["aps"]["badge"] == 4);
  CHECK(payload["aps"]["sound"] == "default");
  CHECK(payload["aps"]["mutable-content"] == 1);
  CHECK(payload["aps"]["interruption-level"] == "time-sensitive");
  CHECK(payload["ext"] == "{\"k\":1}");
  n->clear_badge();
  CHECK_FALSE(nlohmann::json::parse(ApnsPayload(*n))["aps"].contains("badge"));
}

TEST_CASE("credentials are checked per channel and shown without secrets", "[push]") {
  std::string ec = NewKeyPem(EVP_PKEY_EC);
  std::string rsa = NewKeyPem(EVP_PKEY_RSA);
  v1::PushCredential apns;
  apns.set_channel("APNs");
  apns.set_bundle_id("com.example");
  apns.set_key_id("ABCDEFGHIJ");
  apns.set_team_id("TEAMTEAM01");
  apns.set_private_key(ec);
  CHECK(CredentialError(apns).empty());
  auto info = PublicInfo(apns, 5);
  CHECK(info.environment() == "production");
  CHECK(info.auth() == "token");
  CHECK(info.SerializeAsString().find("PRIVATE KEY") == std::string::npos);
  apns.set_private_key(rsa);  // not an EC key
  CHECK_FALSE(CredentialError(apns).empty());
  apns.set_private_key(ec);
  apns.set_key_id("short");
  CHECK_FALSE(CredentialError(apns).empty());
  apns.set_environment("staging");
  CHECK_FALSE(CredentialError(apns).empty());

  v1::PushCredential fcm;
  fcm.set_channel("FCM");
  nlohmann::json account = {{"project_id", "p"}, {"client_email", "e@x"},
                            {"private_key", rsa}, {"token_uri", "https://t/token"}};
  fcm.set_service_account(account.dump());
  CHECK(CredentialError(fcm).empty());
  CHECK(PublicInfo(fcm, 1).project_id() == "p");
  account["private_key"] = ec;
  fcm.set_service_account(account.dump());
  CHECK_FALSE(CredentialError(fcm).empty());
  fcm.set_service_account("not json");
  CHECK_FALSE(CredentialError(fcm).empty());

  v1::PushCredential other;
  other.set_channel("Huawei");
  CHECK_FALSE(CredentialError(other).empty());
  other.set_app_id("1");
  other.set_app_secret("s");
  CHECK(CredentialError(other).empty());
  CHECK(PublicInfo(other, 1).auth() == "secret");
  other.set_channel("Nokia");
  CHECK_FALSE(CredentialError(other).empty());
}

TEST_CASE("JWTs for APNs (ES256) and FCM (RS256) verify with the key's public half", "[push]") {
  std::string ec = NewKeyPem(EVP_PKEY_EC);
  std::string rsa = NewKeyPem(EVP_PKEY_RSA);
  auto es = SignJwt(JwtAlg::kES256, R"({"alg":"ES256","kid":"K"})", R"({"iss":"T","iat":1})", ec);
  REQUIRE(es.ok());
  CHECK(Verifies(*es, ec, true));
  std::string header;
  REQUIRE(absl::WebSafeBase64Unescape(std::string(absl::StrSplit(*es, '.').begin()->data(),
                                                  es->find('.')),
                                      &header));
  CHECK(nlohmann::json::parse(header)["kid"] == "K");
  auto rs = SignJwt(JwtAlg::kRS256, R"({"alg":"RS256"})", R"({"iss":"x"})", rsa);
  REQUIRE(rs.ok());
  CHECK(Verifies(*rs, rsa, false));
  // Keys of the wrong kind, or no key: refused, without the key in the error.
  auto wrong = SignJwt(JwtAlg::kES256, "{}", "{}", rsa);
  CHECK(absl::IsInvalidArgument(wrong.status()));
  CHECK(std::string(wrong.status().message()).find("BEGIN") == std::string::npos);
  CHECK_FALSE(SignJwt(JwtAlg::kRS256, "{}", "{}", "garbage").ok());
}

TEST_CASE("vendor answers and retry delays", "[push]") {
  CHECK(OutcomeOfStatus(200) == Outcome::kSent);
  CHECK(OutcomeOfStatus(0) == Outcome::kRetry);
  CHECK(OutcomeOfStatus(429) == Outcome::kRetry);
  CHECK(OutcomeOfStatus(503) == Outcome::kRetry);
  CHECK(OutcomeOfStatus(400) == Outcome::kRejected);
  CHECK(ParseRetryAfter("").count() == 0);
  CHECK(ParseRetryAfter("7").count() == 7000);
  CHECK(ParseRetryAfter("99999").count() == 3600000);
  CHECK(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT").count() == 60000);
  CHECK(RetryDelay(1, std::chrono::milliseconds(0)).count() == 1000);
  CHECK(RetryDelay(3, std::chrono::milliseconds(0)).count() == 4000);
  CHECK(RetryDelay(30, std::chrono::milliseconds(0)).count() == 300000);
  CHECK(RetryDelay(1, std::chrono::seconds(30)).count() == 30000);  // Retry-After wins
  CHECK(RetryDelay(2, std::chrono::milliseconds(0), std::chrono::milliseconds(200),
                   std::chrono::milliseconds(300))
            .count() == 300);
}

TEST_CASE("which devices take notifications and the user's status", "[push]") {
  using presence::Device;
  using presence::Session;
  std::vector<Session> sessions = {{"s1", "gw", "iPhone", "", 0}, {"s2", "gw", "Web", "", 0}};
  std::vector<Device> devices = {{"APNs", "t1", 0, "iPhone", "s1", false, 1},
                                 {"FCM", "t2", 0, "Android", "gone", false, 1}};
  auto offline = presence::OfflineDevices(devices, sessions);
  REQUIRE(offline.size() == 1);
  CHECK(offline[0].token == "t2");
  CHECK(presence::PushStatus(devices, sessions) == "Online");
  devices[0].background = true;
  CHECK(presence::OfflineDevices(devices, sessions).size() == 2);
  CHECK(presence::PushStatus(devices, sessions) == "Online");  // the Web session
  CHECK(presence::PushStatus(devices, {sessions[0]}) == "PushOnline");
  CHECK(presence::PushStatus(devices, {}) == "PushOnline");
  CHECK(presence::PushStatus({}, {}) == "Offline");
  CHECK(presence::IsPushChannel("vivo"));
  CHECK_FALSE(presence::IsPushChannel("VIVO"));
}

TEST_CASE("vendor endpoints default to the vendors and take overrides by name", "[push]") {
  auto e = VendorEndpoints::Defaults();
  CHECK(e.Get("apns") == "https://api.push.apple.com");
  CHECK(e.Get("apns_sandbox") == "https://api.sandbox.push.apple.com");
  CHECK(e.Override("apns=https://127.0.0.1:1, fcm=https://127.0.0.1:2").ok());
  CHECK(e.Get("apns") == "https://127.0.0.1:1");
  CHECK(e.Get("fcm") == "https://127.0.0.1:2");
  CHECK_FALSE(e.Override("nokia=https://x").ok());
  CHECK_FALSE(e.Override("apns=").ok());
  for (const auto& channel : presence::PushChannels()) CHECK(MakeVendor(channel, nullptr, e) != nullptr);
  CHECK(MakeVendor("Nokia", nullptr, e) == nullptr);
}

TEST_CASE("a vendor that keeps failing is skipped for a while, then tried again", "[push]") {
  using std::chrono::milliseconds;
  CHECK(VendorFailing({Outcome::kRetry, 0, "NoAnswer", {}}));
  CHECK(VendorFailing({Outcome::kRetry, 503, "Unavailable", {}}));
  CHECK(!VendorFailing({Outcome::kRetry, 429, "TooManyRequests", {}}));
  CHECK(!VendorFailing({Outcome::kRetry, 401, "UNAUTHENTICATED", {}}));
  CHECK(!VendorFailing({Outcome::kInvalidToken, 410, "Unregistered", {}}));

  VendorBreaker breaker(3, milliseconds(1000));
  int64_t now = 10000;
  breaker.Record("APNs", true, now);
  breaker.Record("APNs", true, now);
  breaker.Record("APNs", false, now);  // an answer: the count starts again
  breaker.Record("APNs", true, now);
  breaker.Record("APNs", true, now);
  CHECK(breaker.OpenFor("APNs", now) == milliseconds(0));
  breaker.Record("APNs", true, now);  // the third in a row
  CHECK(breaker.OpenFor("APNs", now) == milliseconds(1000));
  CHECK(breaker.OpenFor("APNs", now + 400) == milliseconds(600));
  CHECK(breaker.OpenFor("FCM", now) == milliseconds(0));  // per vendor
  breaker.Record("APNs", true, now + 500);  // a send from before it opened
  CHECK(breaker.OpenFor("APNs", now + 500) == milliseconds(500));
  // Half-open after the cool-down: one failure opens it again at once.
  CHECK(breaker.OpenFor("APNs", now + 1000) == milliseconds(0));
  breaker.Record("APNs", true, now + 1000);
  CHECK(breaker.OpenFor("APNs", now + 1000) == milliseconds(1000));
  // A success closes it: three failures again before it opens.
  breaker.Record("APNs", false, now + 2000);
  breaker.Record("APNs", true, now + 2000);
  CHECK(breaker.OpenFor("APNs", now + 2000) == milliseconds(0));
}
