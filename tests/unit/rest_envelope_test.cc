#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "rest_api.h"

using parley::gateway::Envelope;

TEST_CASE("success envelopes merge the response fields", "[rest]") {
  auto json = nlohmann::json::parse(Envelope(0, "", R"({"FailAccounts":["x"]})"));
  CHECK(json["ActionStatus"] == "OK");
  CHECK(json["ErrorCode"] == 0);
  CHECK(json["ErrorInfo"] == "");
  CHECK(json["FailAccounts"] == nlohmann::json::array({"x"}));
  CHECK(nlohmann::json::parse(Envelope(0, "", "{}")).size() == 3);
}

TEST_CASE("failure envelopes escape ErrorInfo", "[rest]") {
  auto json = nlohmann::json::parse(Envelope(70001, "bad \"sig\"\n\xff", ""));
  CHECK(json["ActionStatus"] == "FAIL");
  CHECK(json["ErrorCode"] == 70001);
  CHECK(json["ErrorInfo"].get<std::string>().rfind("bad \"sig\"", 0) == 0);
}

TEST_CASE("JSON bodies transcode through json_name - wrong types are the service's error",
          "[rest]") {
  parley::gateway::ServiceCodes codes{60010, 60003, 70402, 70500};
  parley::v1::AccountImportRequest request;
  REQUIRE(parley::gateway::ParseJsonBody(
              R"({"UserID":"alice","Nick":"A","Unknown":{"x":1}})", &request, codes)
              .ok());
  CHECK(request.user_id() == "alice");
  CHECK(request.nick() == "A");
  auto wrong = parley::gateway::ParseJsonBody(R"({"UserID":42})", &request, codes);
  CHECK(parley::errors::TencentCode(wrong) == 70402);
  parley::v1::AccountCheckResponse response;
  response.add_result_item()->set_user_id("bob");
  auto printed = nlohmann::json::parse(parley::gateway::PrintJson(response));
  CHECK(printed["ResultItem"][0]["UserID"] == "bob");
  CHECK(printed["ResultItem"][0]["ResultCode"] == 0);
}
