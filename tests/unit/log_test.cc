#include "parley/log/log.h"

#include <catch2/catch.hpp>

namespace plog = parley::log;

TEST_CASE("a log line is one JSON object with the event and fields", "[log]") {
  auto line = plog::FormatForTest(plog::Level::kInfo, "account_import",
                                 {{"sdkappid", 1400000000}, {"user", "alice\nbob"}});
  CHECK(line.find('\n') == std::string::npos);
  auto parsed = nlohmann::json::parse(line);
  CHECK(parsed["event"] == "account_import");
  CHECK(parsed["level"] == "info");
  CHECK(parsed["sdkappid"] == 1400000000);
  CHECK(parsed["user"] == "alice\nbob");
}

TEST_CASE("secrets are redacted whatever the caller passes", "[log]") {
  auto line = plog::FormatForTest(
      plog::Level::kWarn, "oops",
      {{"usersig", "eJyr..."}, {"secret_key", "abc"}, {"Token", "t"}, {"key", "k"},
       {"password", "p"}, {"admin_sig", "s"}, {"user", "alice"}, {"signal", 15},
       {"msg_key", "1_2_3"}});
  auto parsed = nlohmann::json::parse(line);
  for (const char* name : {"usersig", "secret_key", "Token", "key", "password", "admin_sig"}) {
    INFO(name);
    CHECK(parsed[name] == "[redacted]");
  }
  CHECK(parsed["user"] == "alice");
  CHECK(parsed["signal"] == 15);  // not a secret for containing "sig"
  CHECK(parsed["msg_key"] == "1_2_3");
  CHECK(line.find("eJyr") == std::string::npos);
}

TEST_CASE("invalid UTF-8 never throws", "[log]") {
  auto line = plog::FormatForTest(plog::Level::kError, "bad", {{"value", std::string("\xff\xfe")}});
  CHECK_NOTHROW(nlohmann::json::parse(line));
}
