// Input hygiene at the edge: characters PostgreSQL cannot hold, JSON nested
// too deep, caller-chosen message keys that name a stored message. None of
// them may become an internal error, and no answer carries a dependency's
// own error text.
#include <catch2/catch.hpp>
#include <string>

#include "support/e2e_helpers.h"
#include "support/test_cluster.h"
#include "support/ws_client.h"

using namespace parley::testing;
using nlohmann::json;

namespace {

const std::string kNul("\0", 1);

json TextBody(const std::string& text) {
  return json::array({{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", text}}}}});
}

// An answer whose ErrorInfo names no dependency.
void CheckClean(const json& answer) {
  INFO(answer.dump());
  std::string info = answer.value("ErrorInfo", "");
  for (const char* word : {"PostgreSQL", "ERROR:", "pqxx", "invalid byte sequence", "Redis",
                           "hiredis", "grpc", "0x00"}) {
    CHECK(info.find(word) == std::string::npos);
  }
}

}  // namespace

TEST_CASE("a NUL in a message text is stored and delivered as it came", "[hygiene]") {
  TestCluster c;
  ImportAccounts(c, {"alice", "bob"});
  WsClient bob(c.http_port);
  LoginOk(bob, c, "bob", "Web");
  std::string text = "before" + kNul + "after";
  json sent = c.Rest("openim/sendmsg", json{{"From_Account", "alice"}, {"To_Account", "bob"},
                                            {"MsgRandom", 1}, {"MsgBody", TextBody(text)}}
                                           .dump());
  INFO(sent.dump());
  REQUIRE(sent["ErrorCode"] == 0);
  auto event = bob.NextEvent();
  REQUIRE(event);
  CHECK((*event)["message"]["MsgBody"][0]["MsgContent"]["Text"] == text);
  json roam = c.Rest("openim/admin_getroammsg",
                     json{{"Operator_Account", "alice"}, {"Peer_Account", "bob"}, {"MaxCnt", 10},
                          {"MinTime", 0}, {"MaxTime", 4294967295u}}
                         .dump());
  REQUIRE(roam["ErrorCode"] == 0);
  REQUIRE(roam["MsgList"].size() == 1);
  CHECK(roam["MsgList"][0]["MsgBody"][0]["MsgContent"]["Text"] == text);
  // A whole batch of sends with NULs goes through at once (no retry one by one).
  WsClient alice(c.http_port);
  LoginOk(alice, c, "alice", "Web");
  for (int i = 0; i < 5; ++i) {
    json ack = alice.SendText("bob", "x" + kNul + std::to_string(i));
    INFO(ack.dump());
    CHECK(ack.contains("sendAck"));
  }
}

TEST_CASE("a NUL anywhere else is a parameter error that changes nothing", "[hygiene]") {
  TestCluster c;
  ImportAccounts(c, {"alice", "bob"});
  // A UserID: the service's invalid-parameter code, not an internal error.
  json to = c.Rest("openim/sendmsg", json{{"From_Account", "alice"},
                                          {"To_Account", "bo" + kNul + "b"},
                                          {"MsgRandom", 2},
                                          {"MsgBody", TextBody("hi")}}
                                         .dump());
  CheckClean(to);
  CHECK(to["ErrorCode"] == 90001);
  json import = c.Rest("im_open_login_svc/account_import",
                       json{{"UserID", "mal" + kNul + "lory"}}.dump());
  CheckClean(import);
  CHECK(import["ErrorCode"] == 70402);
  json cloud = c.Rest("openim/sendmsg", json{{"From_Account", "alice"},
                                             {"To_Account", "bob"},
                                             {"MsgRandom", 3},
                                             {"CloudCustomData", "a" + kNul},
                                             {"MsgBody", TextBody("hi")}}
                                            .dump());
  CheckClean(cloud);
  CHECK(cloud["ErrorCode"] == 90001);
  json profile = c.Rest("profile/portrait_set",
                        json{{"From_Account", "alice"},
                             {"ProfileItem", {{{"Tag", "Tag_Profile_IM_Nick"},
                                               {"Value", "A" + kNul}}}}}
                            .dump());
  CheckClean(profile);
  CHECK(profile["ErrorCode"] == 40001);
  // Over the client protocol: a malformed frame, with its id.
  WsClient client(c.http_port);
  client.Send({{"id", "l"},
               {"login",
                {{"sdkappid", std::to_string(c.sdkappid)}, {"userId", "ev" + kNul + "e"},
                 {"usersig", c.Sig("eve")}, {"platform", "Web"}}}});
  auto refused = client.Next();
  REQUIRE(refused);
  CHECK((*refused)["id"] == "l");
  CHECK((*refused)["error"]["errorCode"] == 20001);
  // Nothing was stored.
  json check = c.Rest("im_open_login_svc/account_check",
                      json{{"CheckItem", {{{"UserID", "mal" + kNul + "lory"}}}}}.dump());
  CheckClean(check);
  CHECK(check["ErrorCode"] != 0);
}

TEST_CASE("JSON nested over the limit is a parameter error", "[hygiene]") {
  TestCluster c;
  ImportAccounts(c, {"alice", "bob"});
  json deep = "leaf";
  for (int i = 0; i < 47; ++i) deep = json::array({deep});
  json answer = c.Rest("openim/sendmsg",
                       json{{"From_Account", "alice"}, {"To_Account", "bob"}, {"MsgRandom", 4},
                            {"MsgBody", {{{"MsgType", "TIMCustomElem"},
                                          {"MsgContent", {{"Data", "x"}, {"Ext", deep}}}}}}}
                           .dump());
  CheckClean(answer);
  CHECK(answer["ErrorCode"] == 90001);
  CHECK(answer["ErrorInfo"].get<std::string>().find("nested deeper") != std::string::npos);
  // The same over the client protocol is a malformed frame.
  WsClient alice(c.http_port);
  LoginOk(alice, c, "alice", "Web");
  json frame = {{"id", "d"}, {"send", {{"to", "bob"}, {"body", deep}}}};
  alice.Send(frame);
  auto refused = alice.Next();
  REQUIRE(refused);
  CHECK((*refused)["error"]["errorCode"] == 20001);
}

TEST_CASE("a caller-chosen MsgSeq/MsgRandom/MsgTimeStamp of a stored message is a duplicate",
          "[hygiene]") {
  TestCluster c;
  ImportAccounts(c, {"alice", "bob"});
  WsClient bob(c.http_port);
  LoginOk(bob, c, "bob", "Web");
  int64_t when = NowSeconds() - 100;
  json imported = c.Rest("openim/importmsg",
                         json{{"SyncFromOldSystem", 2}, {"From_Account", "alice"},
                              {"To_Account", "bob"}, {"MsgSeq", 77}, {"MsgRandom", 4242},
                              {"MsgTimeStamp", when}, {"MsgBody", TextBody("imported")}}
                             .dump());
  REQUIRE(imported["ErrorCode"] == 0);
  auto first = bob.NextEvent();
  // The same key through sendmsg: answered like Tencent's duplicate, at once
  // and every time, never "retry".
  for (int attempt = 0; attempt < 2; ++attempt) {
    json sent = c.Rest("openim/sendmsg",
                       json{{"From_Account", "alice"}, {"To_Account", "bob"}, {"MsgSeq", 77},
                            {"MsgRandom", 4242}, {"MsgTimeStamp", when},
                            {"MsgBody", TextBody("again")}}
                           .dump());
    INFO(sent.dump());
    CHECK(sent["ErrorCode"] == 0);
    CHECK(sent["MsgKey"] == "77_4242_" + std::to_string(when));
  }
  // Stored once: the history holds the imported message only.
  json roam = c.Rest("openim/admin_getroammsg",
                     json{{"Operator_Account", "alice"}, {"Peer_Account", "bob"}, {"MaxCnt", 10},
                          {"MinTime", 0}, {"MaxTime", 4294967295u}}
                         .dump());
  REQUIRE(roam["MsgList"].size() == 1);
  CHECK(roam["MsgList"][0]["MsgBody"][0]["MsgContent"]["Text"] == "imported");
  (void)first;
  CHECK_FALSE(bob.NextEvent(1000).has_value());
}
