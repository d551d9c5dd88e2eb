#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "after_queue.h"
#include "breaker.h"
#include "parley/callbacks/callbacks.h"
#include "transport.h"

using namespace parley::callback;
using parley::v1::BeforeResponse;

TEST_CASE("callback Sign is SHA-256 of token and RequestTime", "[callback]") {
  // The reference's verified example (compat reference §6.1).
  CHECK(Sign("xxxxyyyy", 1669872112) ==
        "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061");
}

TEST_CASE("callback URL carries Tencent's query parameters", "[callback]") {
  std::string url = CallbackUrl("https://hooks.example.com/im", 1400000001,
                                "C2C.CallbackBeforeSendMsg", "RESTAPI", "10.0.0.1", "", 0);
  CHECK(url ==
        "https://hooks.example.com/im?SdkAppid=1400000001&CallbackCommand=C2C.CallbackBeforeSendMsg"
        "&contenttype=json&ClientIP=10.0.0.1&OptPlatform=RESTAPI");
  std::string signed_url =
      CallbackUrl("http://h/cb?k=v", 1, "State.StateChange", "IOS", "", "xxxxyyyy", 1669872112);
  CHECK(signed_url ==
        "http://h/cb?k=v&SdkAppid=1&CallbackCommand=State.StateChange&contenttype=json&ClientIP="
        "&OptPlatform=IOS&RequestTime=1669872112"
        "&Sign=17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061");
}

TEST_CASE("callback body puts CallbackCommand and EventTime first", "[callback]") {
  auto body = CallbackBody("C2C.CallbackAfterSendMsg", R"({"From_Account":"a","To_Account":"b"})",
                           1700000000123);
  REQUIRE(body.ok());
  CHECK(*body ==
        R"({"CallbackCommand":"C2C.CallbackAfterSendMsg","EventTime":1700000000123,)"
        R"("From_Account":"a","To_Account":"b"})");
  CHECK_FALSE(CallbackBody("x", "[1]", 0).ok());
  CHECK_FALSE(CallbackBody("x", "not json", 0).ok());
}

TEST_CASE("before-callback answers and the failure policy", "[callback]") {
  auto allow = ReadBeforeAnswer(std::string(R"({"ActionStatus":"OK","ErrorCode":0})"), false);
  CHECK(allow.verdict() == BeforeResponse::ALLOW);
  CHECK(allow.asked());
  auto reject = ReadBeforeAnswer(std::string(R"({"ErrorCode":1,"ErrorInfo":"no"})"), false);
  CHECK(reject.verdict() == BeforeResponse::REJECT);
  CHECK(reject.error_code() == 1);
  CHECK(reject.error_info() == "no");
  CHECK(ReadBeforeAnswer(std::string(R"({"ErrorCode":2})"), false).verdict() ==
        BeforeResponse::DROP);
  auto custom = ReadBeforeAnswer(std::string(R"({"ErrorCode":120042})"), false);
  CHECK(custom.error_code() == 120042);
  auto rewrite = ReadBeforeAnswer(
      std::string(R"({"ErrorCode":0,"MsgBody":[{"MsgType":"TIMTextElem"}]})"), false);
  CHECK(nlohmann::json::parse(rewrite.response_json())["MsgBody"].is_array());

  for (const std::optional<std::string>& failure :
       {std::optional<std::string>(), std::optional<std::string>("garbage"),
        std::optional<std::string>("[]"), std::optional<std::string>(R"({"ErrorCode":"0"})")}) {
    CHECK(ReadBeforeAnswer(failure, false).verdict() == BeforeResponse::ALLOW);
    auto refused = ReadBeforeAnswer(failure, true);
    CHECK(refused.verdict() == BeforeResponse::REJECT);
    CHECK(refused.error_code() == 80003);
  }
  CHECK(AfterAnswerOk(200, R"({"ActionStatus":"OK"})"));
  CHECK_FALSE(AfterAnswerOk(500, R"({"ActionStatus":"OK"})"));
  CHECK_FALSE(AfterAnswerOk(200, "OK"));
}

TEST_CASE("after-callback events, settings and backoff", "[callback]") {
  parley::callbacks::Event event{1400000001, "Sns.CallbackFriendAdd", R"({"PairList":[]})",
                                 "RESTAPI", "", 1700000000000, 3, "HTTP 500"};
  auto decoded = parley::callbacks::DecodeEvent(parley::callbacks::EncodeEvent(event));
  REQUIRE(decoded.ok());
  CHECK(decoded->sdkappid == event.sdkappid);
  CHECK(decoded->command == event.command);
  CHECK(decoded->payload_json == event.payload_json);
  CHECK(decoded->attempts == 3);
  CHECK(decoded->last_error == "HTTP 500");
  CHECK_FALSE(parley::callbacks::DecodeEvent("{}").ok());

  parley::v1::CallbackSettings settings;
  CHECK_FALSE(parley::callbacks::Enables(settings, "State.StateChange"));  // no URL
  settings.set_url("http://x");
  CHECK_FALSE(parley::callbacks::Enables(settings, "State.StateChange"));
  settings.add_enabled_commands("State.StateChange");
  CHECK(parley::callbacks::Enables(settings, "State.StateChange"));
  settings.set_enable_all(true);
  CHECK(parley::callbacks::Enables(settings, "Bot.OnC2CMessage"));

  AfterQueueOptions options;
  options.retry_base = std::chrono::milliseconds(1000);
  options.retry_max = std::chrono::milliseconds(60000);
  CHECK(AfterQueue::Backoff(options, 1).count() == 1000);
  CHECK(AfterQueue::Backoff(options, 2).count() == 2000);
  CHECK(AfterQueue::Backoff(options, 4).count() == 8000);
  CHECK(AfterQueue::Backoff(options, 20).count() == 60000);

  CHECK(parley::callbacks::OptPlatform(true, "iPhone") == "RESTAPI");
  CHECK(parley::callbacks::OptPlatform(false, "iPhone") == "iOS");
  CHECK(parley::callbacks::OptPlatform(false, "PC") == "Windows");
  CHECK(parley::callbacks::OptPlatform(false, "") == "Unknown");
}

TEST_CASE("stream ids compare by time, then sequence", "[callback]") {
  CHECK(StreamIdLess("1-0", "2-0"));
  CHECK(StreamIdLess("5-1", "5-2"));
  CHECK(StreamIdLess("9-99", "10-0"));  // numbers, not text
  CHECK_FALSE(StreamIdLess("10-0", "9-99"));
  CHECK_FALSE(StreamIdLess("3-3", "3-3"));
  CHECK_FALSE(StreamIdLess("bad", "3-3"));
}

TEST_CASE("only entries every consumer group acknowledged may be trimmed", "[callback]") {
  // No group: nobody has consumed anything.
  CHECK(ConsumedBefore({}).empty());
  // A group that read nothing holds everything.
  CHECK(ConsumedBefore({{"0-0", 0, ""}}).empty());
  CHECK(ConsumedBefore({{"100-0", 0, ""}, {"0-0", 0, ""}}).empty());
  // Everything read and acknowledged: up to and including the last delivered.
  CHECK(ConsumedBefore({{"100-5", 0, ""}}) == "100-6");
  // Pending (read, not acknowledged) entries stay, from the oldest on.
  CHECK(ConsumedBefore({{"100-5", 3, "40-1"}}) == "40-1");
  // The slowest group decides.
  CHECK(ConsumedBefore({{"100-5", 0, ""}, {"70-0", 0, ""}}) == "70-1");
  CHECK(ConsumedBefore({{"100-5", 0, ""}, {"120-0", 2, "90-0"}}) == "90-0");
}

TEST_CASE("a circuit breaker opens after failures in a row and lets one probe through",
          "[callback]") {
  using D = CircuitBreakers::Decision;
  CircuitBreakers breakers({3, std::chrono::milliseconds(100), std::chrono::milliseconds(350)});
  const std::string key = CircuitBreakers::Key(1400000001, "http://127.0.0.1:9/down");
  int64_t now = 1000;
  // Failures short of the threshold, or broken by a success, keep it closed.
  breakers.Record(key, false, now);
  breakers.Record(key, false, now);
  breakers.Record(key, true, now);
  breakers.Record(key, false, now);
  breakers.Record(key, false, now);
  CHECK(breakers.Allow(key, now) == D::kAttempt);
  breakers.Record(key, false, now);  // the third in a row
  CHECK(breakers.IsOpen(key));
  CHECK(breakers.Allow(key, now) == D::kSkip);
  CHECK(breakers.Allow(key, now + 99) == D::kSkip);
  // After the cooldown exactly one caller probes.
  CHECK(breakers.Allow(key, now + 100) == D::kProbe);
  CHECK(breakers.Allow(key, now + 100) == D::kSkip);
  // A failed probe doubles the wait (200 ms), then caps it (350 ms).
  breakers.Record(key, false, now + 100);
  CHECK(breakers.Allow(key, now + 299) == D::kSkip);
  CHECK(breakers.Allow(key, now + 300) == D::kProbe);
  breakers.Record(key, false, now + 300);
  CHECK(breakers.Allow(key, now + 649) == D::kSkip);
  CHECK(breakers.Allow(key, now + 650) == D::kProbe);
  // A probe that succeeds closes it.
  breakers.Record(key, true, now + 650);
  CHECK_FALSE(breakers.IsOpen(key));
  CHECK(breakers.Allow(key, now + 650) == D::kAttempt);
  // Breakers are per app and URL.
  CHECK(breakers.Allow(CircuitBreakers::Key(1400000002, "http://127.0.0.1:9/down"), now) ==
        D::kAttempt);
}
