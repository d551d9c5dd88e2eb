// Global mutes end to end: openconfigsvr/setnospeaking and getnospeaking over
// REST, and the client sends they refuse (one-to-one 20012, group 10017),
// taking effect at once on every message replica's cache.
#include <catch2/catch.hpp>

#include "support/e2e_helpers.h"
#include "support/test_cluster.h"

using namespace parley::testing;
using nlohmann::json;

namespace {

json Config(const TestCluster& c, const std::string& command, const json& body) {
  return c.Rest("openconfigsvr/" + command, body.dump());
}

int ErrorCodeOf(const json& answer) {
  return answer.contains("error") ? answer["error"].value("errorCode", 0) : 0;
}

json Text(const std::string& text) {
  return json::array({{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", text}}}}});
}

}  // namespace

TEST_CASE("global mute: one-to-one and group sends apart, for a while or for ever",
          "[nospeaking][ws]") {
  TestCluster c;
  ImportAccounts(c, {"alice", "bob"});
  std::string group = Group(c, "create_group", {{"Owner_Account", "alice"}, {"Type", "Public"},
                                                {"Name", "g"},
                                                {"MemberList", {{{"Member_Account", "bob"}}}}})["GroupId"];
  WsClient alice(c.http_port);
  LoginOk(alice, c, "alice");
  int n = 0;
  auto group_send = [&]() {
    return ErrorCodeOf(alice.Call("g" + std::to_string(++n),
                                  {{"groupSend", {{"GroupId", group}, {"MsgBody", Text("hi")}}}}));
  };
  CHECK(ErrorCodeOf(alice.SendText("bob", "before")) == 0);

  // One-to-one only: group sends go on.
  REQUIRE(Code(Config(c, "setnospeaking", {{"Set_Account", "alice"},
                                            {"C2CmsgNospeakingTime", 600}})) == 0);
  CHECK(ErrorCodeOf(alice.SendText("bob", "muted")) == 20012);
  CHECK(group_send() == 0);
  json got = Config(c, "getnospeaking", {{"Get_Account", "alice"}});
  REQUIRE(Code(got) == 0);
  CHECK(got["C2CmsgNospeakingTime"].get<uint32_t>() > 590);
  CHECK(got["C2CmsgNospeakingTime"].get<uint32_t>() <= 600);
  CHECK(got["GroupmsgNospeakingTime"] == 0);
  // The app's REST sends are not held back.
  CHECK(Code(c.Rest("openim/sendmsg",
                    json{{"From_Account", "alice"}, {"To_Account", "bob"}, {"MsgRandom", 7},
                         {"MsgBody", Text("by the app")}}.dump())) == 0);

  // Group for ever; one-to-one lifted (fields left out keep their value).
  REQUIRE(Code(Config(c, "setnospeaking", {{"Set_Account", "alice"},
                                            {"GroupmsgNospeakingTime", 4294967295u}})) == 0);
  CHECK(group_send() == 10017);
  CHECK(ErrorCodeOf(alice.SendText("bob", "still muted")) == 20012);
  REQUIRE(Code(Config(c, "setnospeaking", {{"Set_Account", "alice"},
                                            {"C2CmsgNospeakingTime", 0}})) == 0);
  CHECK(ErrorCodeOf(alice.SendText("bob", "free again")) == 0);
  got = Config(c, "getnospeaking", {{"Get_Account", "alice"}});
  CHECK(got["C2CmsgNospeakingTime"] == 0);
  CHECK(got["GroupmsgNospeakingTime"] == 4294967295u);
  REQUIRE(Code(Config(c, "setnospeaking", {{"Set_Account", "alice"},
                                            {"GroupmsgNospeakingTime", 0}})) == 0);
  CHECK(group_send() == 0);

  // Errors: a bad or unknown account, nothing to set, JSON, not the app.
  CHECK(Code(Config(c, "setnospeaking", {{"Set_Account", ""}, {"C2CmsgNospeakingTime", 1}})) == 90001);
  CHECK(Code(Config(c, "setnospeaking", {{"Set_Account", "nobody"},
                                         {"C2CmsgNospeakingTime", 1}})) == 90012);
  CHECK(Code(Config(c, "setnospeaking", {{"Set_Account", "alice"}})) == 90001);
  CHECK(Code(Config(c, "setnospeaking", {{"Set_Account", "alice"},
                                         {"C2CmsgNospeakingTime", "ten"}})) == 90001);
  CHECK(Code(Config(c, "getnospeaking", {{"Get_Account", "nobody"}})) == 0);  // never muted
  // Users cannot lift their own mute: the command is the app's alone.
  CHECK(ErrorCodeOf(alice.Call("a1", {{"api", {{"service", "openconfigsvr"},
                                               {"command", "setnospeaking"},
                                               {"body", {{"Set_Account", "alice"},
                                                         {"C2CmsgNospeakingTime", 0}}}}}})) == 20001);
}
