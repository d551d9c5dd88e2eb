// Third-party callbacks end to end: the real binaries call a real HTTP
// receiver on loopback.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "parley/callbacks/callbacks.h"
#include "parley/redis/pool.h"
#include "parley/v1/callback.grpc.pb.h"
#include "support/e2e_helpers.h"
#include "support/test_cluster.h"
#include "support/tls.h"
#include "support/webhook_receiver.h"
#include "support/ws_client.h"

using namespace parley::testing;
using nlohmann::json;

namespace {

constexpr char kToken[] = "xxxxyyyy";

Env CallbackEnv(const WebhookReceiver& receiver) {
  return {{"PARLEY_CALLBACK_URL", receiver.url()},
          {"PARLEY_CALLBACK_TOKEN", kToken},
          {"PARLEY_CALLBACK_RETRY_BASE_MS", "100"},
          {"PARLEY_CALLBACK_RETRY_MAX_MS", "400"},
          {"PARLEY_CALLBACK_MAX_ATTEMPTS", "12"}};
}



std::unique_ptr<parley::v1::WebhookService::Stub> Webhooks(TestCluster& c) {
  return parley::v1::WebhookService::NewStub(
      TlsChannel(c.setting("PARLEY_CALLBACK_TARGET"), "callback"));
}

void UpdateSettings(TestCluster& c, const std::function<void(parley::v1::CallbackSettings&)>& edit) {
  parley::v1::CallbackSettings update, answer;
  update.set_sdkappid(c.sdkappid);
  edit(update);
  grpc::ClientContext context;
  REQUIRE(Webhooks(c)->UpdateSettings(&context, update, &answer).ok());
}

std::string TextOf(const json& body) { return body["MsgBody"][0]["MsgContent"]["Text"]; }

json TextBody(const std::string& text) {
  return json::array({{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", text}}}}});
}

// The calls of `command` whose payload satisfies `match`.
std::vector<WebhookReceiver::Call> Matching(WebhookReceiver& receiver, const std::string& command,
                                            const std::function<bool(const json&)>& match,
                                            size_t n = 1, int timeout_ms = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<WebhookReceiver::Call> out;
  while (std::chrono::steady_clock::now() < deadline) {
    out.clear();
    for (const auto& call : receiver.Calls(command)) {
      if (match(call.body)) out.push_back(call);
    }
    if (out.size() >= n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return out;
}

int ErrorCodeOf(const json& answer) {
  return answer.contains("error") ? answer["error"].value("errorCode", 0) : 0;
}

}  // namespace

TEST_CASE("C2C and State callbacks arrive in Tencent's shape with a valid Sign", "[callback]") {
  WebhookReceiver receiver;
  TestCluster c(CallbackEnv(receiver));
  ImportAccounts(c, {"alice", "bob"});
  WsClient alice(c.http_port), bob(c.http_port);
  LoginOk(alice, c, "alice", "iPhone");
  LoginOk(bob, c, "bob");

  auto login = Matching(receiver, "State.StateChange",
                        [](const json& b) { return b["Info"]["To_Account"] == "alice"; });
  REQUIRE(login.size() == 1);
  CHECK(login[0].body["Info"]["Action"] == "Login");
  CHECK(login[0].body["Info"]["Reason"] == "Register");
  CHECK(login[0].query.at("OptPlatform") == "IOS");
  CHECK(login[0].body["KickedDevice"].is_array());
  CHECK(login[0].body["Info"]["Status"] == "Online");

  json ack = alice.SendText("bob", "hello bob");
  REQUIRE(ack.contains("sendAck"));
  std::string key = ack["sendAck"]["msgKey"];
  auto before = Matching(receiver, "C2C.CallbackBeforeSendMsg",
                         [&](const json& b) { return b["MsgKey"] == key; });
  REQUIRE(before.size() == 1);
  const auto& call = before[0];
  CHECK(call.query.at("SdkAppid") == std::to_string(c.sdkappid));
  CHECK(call.query.at("CallbackCommand") == "C2C.CallbackBeforeSendMsg");
  CHECK(call.query.at("contenttype") == "json");
  CHECK(call.query.at("OptPlatform") == "iOS");
  CHECK(call.query.at("ClientIP") == "127.0.0.1");
  CHECK(call.query.at("Sign") == ExpectedSign(kToken, call.query.at("RequestTime")));
  CHECK(std::abs(std::stoll(call.query.at("RequestTime")) - NowSeconds()) < 60);
  CHECK(call.body["CallbackCommand"] == "C2C.CallbackBeforeSendMsg");
  CHECK(call.body["EventTime"].is_number_integer());
  CHECK(call.body["From_Account"] == "alice");
  CHECK(call.body["To_Account"] == "bob");
  CHECK(call.body["MsgSeq"] == ack["sendAck"]["msgSeq"]);
  CHECK(call.body["MsgTime"] == ack["sendAck"]["msgTime"]);
  CHECK(call.body["MsgRandom"].is_number_integer());
  CHECK(call.body["OnlineOnlyFlag"] == 0);
  CHECK(TextOf(call.body) == "hello bob");
  CHECK(call.body.contains("CloudCustomData"));

  auto after = Matching(receiver, "C2C.CallbackAfterSendMsg",
                        [&](const json& b) { return b["MsgKey"] == key; });
  REQUIRE(after.size() == 1);
  CHECK(after[0].body["SendMsgResult"] == 0);
  CHECK(after[0].body["UnreadMsgNum"] == 1);
  CHECK(after[0].query.at("Sign") == ExpectedSign(kToken, after[0].query.at("RequestTime")));

  // Read report and recall.
  REQUIRE(bob.Call("r", {{"read", {{"Peer_Account", "alice"}}}}).contains("ack"));
  auto report = Matching(receiver, "C2C.CallbackAfterMsgReport",
                         [](const json& b) { return b["Report_Account"] == "bob"; });
  REQUIRE(report.size() == 1);
  CHECK(report[0].body["Peer_Account"] == "alice");
  CHECK(report[0].body["UnreadMsgNum"] == 0);
  CHECK(report[0].body["LastReadTime"].is_number_integer());
  REQUIRE(alice.Call("w", {{"recall", {{"To_Account", "bob"}, {"MsgKey", key}}}}).contains("ack"));
  auto recall = Matching(receiver, "C2C.CallbackAfterMsgWithDraw",
                         [&](const json& b) { return b["MsgKey"] == key; });
  REQUIRE(recall.size() == 1);
  CHECK(recall[0].body["From_Account"] == "alice");
  CHECK(recall[0].body["To_Account"] == "bob");

  // REST sends say RESTAPI, and ForbidCallbackControl is honoured.
  json rest = {{"From_Account", "bob"}, {"To_Account", "alice"}, {"MsgRandom", 4242},
               {"ForbidCallbackControl", {"ForbidBeforeSendMsgCallback"}},
               {"MsgBody", TextBody("from rest")}};
  json sent = c.Rest("openim/sendmsg", rest.dump());
  REQUIRE(sent["ErrorCode"] == 0);
  auto rest_after = Matching(receiver, "C2C.CallbackAfterSendMsg",
                             [&](const json& b) { return b["MsgKey"] == sent["MsgKey"]; });
  REQUIRE(rest_after.size() == 1);
  CHECK(rest_after[0].query.at("OptPlatform") == "RESTAPI");
  CHECK(rest_after[0].query.at("ClientIP") == "127.0.0.1");
  CHECK(Matching(receiver, "C2C.CallbackBeforeSendMsg",
                 [&](const json& b) { return b["MsgKey"] == sent["MsgKey"]; }, 1, 300)
            .empty());

  // Logout is a state change too.
  REQUIRE(bob.Call("o", {{"logout", json::object()}}).contains("logoutAck"));
  while (bob.Next(2000)) {
  }  // answers the server's close
  auto logout = Matching(receiver, "State.StateChange", [](const json& b) {
    return b["Info"]["To_Account"] == "bob" && b["Info"]["Action"] == "Logout";
  });
  REQUIRE(logout.size() == 1);
  CHECK(logout[0].body["Info"]["Reason"] == "Unregister");
  CHECK(logout[0].body["Info"]["Status"] == "Offline");
}

TEST_CASE("State.StateChange tells when a user becomes PushOnline and Online again", "[callback]") {
  WebhookReceiver receiver;
  TestCluster c(CallbackEnv(receiver));
  ImportAccounts(c, {"carol"});
  auto changes = [&](const std::string& action, size_t n = 1, int timeout_ms = 10000) {
    return Matching(receiver, "State.StateChange", [&](const json& b) {
      return b["Info"]["To_Account"] == "carol" && b["Info"]["Action"] == action;
    }, n, timeout_ms);
  };
  {
    WsClient carol(c.http_port);
    LoginOk(carol, c, "carol", "iPhone");
    // In the background without a push token she is still Online: no change.
    REQUIRE(carol.Call("b", {{"appState", {{"background", true}}}}).contains("ack"));
    REQUIRE(carol.Call("f", {{"appState", {{"background", false}}}}).contains("ack"));
    REQUIRE(carol.Call("t", {{"pushToken", {{"channel", "APNs"}, {"token", "carol-token"}}}})
                .contains("ack"));
    REQUIRE(carol.Call("b2", {{"appState", {{"background", true}}}}).contains("ack"));
    auto background = changes("Background");
    REQUIRE(background.size() == 1);
    CHECK(background[0].body["Info"]["Reason"] == "AppState");
    CHECK(background[0].body["Info"]["Status"] == "PushOnline");
    REQUIRE(carol.Call("f2", {{"appState", {{"background", false}}}}).contains("ack"));
    auto foreground = changes("Foreground");
    REQUIRE(foreground.size() == 1);
    CHECK(foreground[0].body["Info"]["Status"] == "Online");
    CHECK(changes("Background", 2, 300).size() == 1);  // only the change with a device
  }
  // The connection drops: the device stays, so she is PushOnline.
  auto disconnect = changes("Disconnect");
  REQUIRE(disconnect.size() == 1);
  CHECK(disconnect[0].body["Info"]["Reason"] == "LinkClose");
  CHECK(disconnect[0].body["Info"]["Status"] == "PushOnline");
  json state = c.Rest("openim/query_online_status", json({{"To_Account", {"carol"}}}).dump());
  CHECK(state["QueryResult"][0]["Status"] == "PushOnline");
}

TEST_CASE("before-send callbacks reject, drop and rewrite", "[callback]") {
  WebhookReceiver receiver;
  receiver.OnCommand("C2C.CallbackBeforeSendMsg", [](const WebhookReceiver::Call& call) {
    std::string text = TextOf(call.body);
    if (text == "reject") return WebhookReceiver::Ok({{"ErrorCode", 1}, {"ErrorInfo", "nope"}});
    if (text == "custom") return WebhookReceiver::Ok({{"ErrorCode", 120005}, {"ErrorInfo", "mine"}});
    if (text == "drop") return WebhookReceiver::Ok({{"ErrorCode", 2}});
    if (text == "rewrite") {
      return WebhookReceiver::Ok({{"MsgBody", TextBody("rewritten")}, {"CloudCustomData", "cc"}});
    }
    return WebhookReceiver::Ok();
  });
  // Each failure kind meets the policy itself: no circuit breaker here
  // (the breaker has its own test below).
  Env env = CallbackEnv(receiver);
  env["PARLEY_CALLBACK_BREAKER_FAILURES"] = "1000";
  TestCluster c(env);
  ImportAccounts(c, {"alice", "bob"});
  WsClient alice(c.http_port), bob(c.http_port);
  LoginOk(alice, c, "alice");
  LoginOk(bob, c, "bob");

  json rejected = alice.SendText("bob", "reject");
  CHECK(ErrorCodeOf(rejected) == 20006);
  json custom = alice.SendText("bob", "custom");
  CHECK(ErrorCodeOf(custom) == 120005);
  CHECK(custom["error"]["errorInfo"] == "mine");
  json dropped = alice.SendText("bob", "drop");
  REQUIRE(dropped.contains("sendAck"));  // the sender sees success
  json rewritten = alice.SendText("bob", "rewrite");
  REQUIRE(rewritten.contains("sendAck"));
  // bob gets only the rewritten message: nothing refused or dropped.
  auto event = bob.NextEvent();
  REQUIRE(event);
  CHECK((*event)["message"]["MsgBody"][0]["MsgContent"]["Text"] == "rewritten");
  CHECK((*event)["message"]["CloudCustomData"] == "cc");
  CHECK_FALSE(bob.NextEvent(500));
  // The after-callback sees the message as delivered.
  auto after = Matching(receiver, "C2C.CallbackAfterSendMsg", [&](const json& b) {
    return b["MsgKey"] == rewritten["sendAck"]["msgKey"];
  });
  REQUIRE(after.size() == 1);
  CHECK(TextOf(after[0].body) == "rewritten");
  CHECK(Matching(receiver, "C2C.CallbackAfterSendMsg",
                 [&](const json& b) { return TextOf(b) == "drop" || TextOf(b) == "reject"; }, 1,
                 300)
            .empty());
}

TEST_CASE("slow before-send callbacks of many senders don't queue behind each other",
          "[callback]") {
  WebhookReceiver receiver;
  receiver.OnCommand("C2C.CallbackBeforeSendMsg", [](const WebhookReceiver::Call&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    return WebhookReceiver::Ok();
  });
  TestCluster c(CallbackEnv(receiver));
  constexpr int kSenders = 20;
  std::vector<std::string> users = {"bob"};
  for (int i = 0; i < kSenders; ++i) users.push_back("sender" + std::to_string(i));
  ImportAccounts(c, users);
  std::vector<std::unique_ptr<WsClient>> senders;
  for (int i = 0; i < kSenders; ++i) {
    senders.push_back(std::make_unique<WsClient>(c.http_port));
    LoginOk(*senders.back(), c, users[i + 1]);
  }
  // All at once: the gateway gathers most of them into one call, whose
  // callbacks (250 ms each) must overlap to answer within the 3 s deadline.
  for (int i = 0; i < kSenders; ++i) {
    senders[i]->Send({{"id", "s"},
                      {"send",
                       {{"to", "bob"},
                        {"body", {{{"MsgType", "TIMTextElem"},
                                   {"MsgContent", {{"Text", "hi " + std::to_string(i)}}}}}}}}});
  }
  for (int i = 0; i < kSenders; ++i) {
    std::optional<json> answer;
    do {
      answer = senders[i]->Next(10000);  // the sender's own timeline event may come first
    } while (answer && answer->contains("event"));
    REQUIRE(answer);
    INFO(answer->dump());
    CHECK(answer->contains("sendAck"));
  }
  CHECK(receiver.Calls("C2C.CallbackBeforeSendMsg").size() == kSenders);
}

TEST_CASE("a failing before-callback follows the app's policy", "[callback]") {
  WebhookReceiver receiver;
  receiver.OnCommand("C2C.CallbackBeforeSendMsg", [](const WebhookReceiver::Call& call) {
    std::string text = TextOf(call.body);
    if (text.rfind("hang", 0) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2600));
    if (text.rfind("garbage", 0) == 0) return parley::http::Response{200, "text/plain", "garbage"};
    if (text.rfind("error", 0) == 0) return parley::http::Response{500, "text/plain", "oops"};
    return WebhookReceiver::Ok();
  });
  // Each failure kind meets the policy itself: no circuit breaker here
  // (the breaker has its own test below).
  Env env = CallbackEnv(receiver);
  env["PARLEY_CALLBACK_BREAKER_FAILURES"] = "1000";
  TestCluster c(env);
  ImportAccounts(c, {"alice", "bob"});
  WsClient alice(c.http_port), bob(c.http_port);
  LoginOk(alice, c, "alice");
  LoginOk(bob, c, "bob");

  // Default policy: deliver anyway, after at most the 2 s timeout.
  auto start = std::chrono::steady_clock::now();
  CHECK(alice.SendText("bob", "hang 1").contains("sendAck"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2500));
  CHECK(alice.SendText("bob", "garbage 1").contains("sendAck"));
  CHECK(alice.SendText("bob", "error 1").contains("sendAck"));
  int delivered = 0;
  while (bob.NextEvent(1000)) ++delivered;
  CHECK(delivered == 3);

  // Refuse on failure: 80003, and nothing is delivered.
  UpdateSettings(c, [](auto& s) { s.set_refuse_on_failure(true); });
  json refused;
  for (int i = 0; i < 20; ++i) {  // the setting reaches every producer within moments
    refused = alice.SendText("bob", "garbage " + std::to_string(i));
    if (ErrorCodeOf(refused) == 80003) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(ErrorCodeOf(refused) == 80003);
  CHECK(ErrorCodeOf(alice.SendText("bob", "hang 2")) == 80003);
  CHECK(ErrorCodeOf(alice.SendText("bob", "error 2")) == 80003);
  CHECK(alice.SendText("bob", "fine").contains("sendAck"));
}

TEST_CASE("after-callbacks wait out a receiver that is down, and dead letters replay",
          "[callback]") {
  WebhookReceiver receiver;
  // Events that fail every attempt while others may succeed: the breaker,
  // which parks events of an endpoint that is down as a whole, stays out.
  Env env = CallbackEnv(receiver);
  env["PARLEY_CALLBACK_BREAKER_FAILURES"] = "1000";
  TestCluster c(env);
  ImportAccounts(c, {"alice", "bob"});
  WsClient alice(c.http_port);
  LoginOk(alice, c, "alice");

  receiver.SetDown(true);
  std::set<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    json ack = alice.SendText("bob", "while down " + std::to_string(i));
    INFO(ack.dump());
    REQUIRE(ack.contains("sendAck"));  // senders never wait for after-callbacks
    keys.insert(ack["sendAck"]["msgKey"].get<std::string>());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  receiver.SetDown(false);
  auto arrived = Matching(
      receiver, "C2C.CallbackAfterSendMsg",
      [&](const json& b) { return keys.count(b["MsgKey"].get<std::string>()) > 0; }, 5, 15000);
  std::set<std::string> got;
  for (const auto& call : arrived) got.insert(call.body["MsgKey"].get<std::string>());
  CHECK(got == keys);

  // An event that fails every attempt is kept as a dead letter, then replayed.
  UpdateSettings(c, [](auto& s) { s.set_url("http://127.0.0.1:1/closed"); });
  REQUIRE(c.Rest("sns/friend_add", R"({"From_Account":"alice","AddFriendItem":[{"To_Account":"bob"}],
                                       "ForceAddFlags":1})")["ResultItem"][0]["ResultCode"] == 0);
  auto stub = Webhooks(c);
  parley::v1::ListDeadLettersResponse letters;
  for (int i = 0; i < 100 && letters.dead_letters_size() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    grpc::ClientContext context;
    parley::v1::ListDeadLettersRequest list;
    list.set_sdkappid(c.sdkappid);
    letters.Clear();
    REQUIRE(stub->ListDeadLetters(&context, list, &letters).ok());
  }
  REQUIRE(letters.dead_letters_size() >= 1);
  CHECK(letters.dead_letters(0).command() == "Sns.CallbackFriendAdd");
  CHECK(letters.dead_letters(0).attempts() == 12);
  CHECK_FALSE(letters.dead_letters(0).last_error().empty());

  UpdateSettings(c, [&](auto& s) { s.set_url(receiver.url()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  grpc::ClientContext context;
  parley::v1::ReplayDeadLettersRequest replay;
  replay.set_sdkappid(c.sdkappid);
  parley::v1::ReplayDeadLettersResponse replayed;
  REQUIRE(stub->ReplayDeadLetters(&context, replay, &replayed).ok());
  CHECK(replayed.replayed() >= 1);
  auto friend_add = receiver.WaitFor("Sns.CallbackFriendAdd", 1);
  REQUIRE_FALSE(friend_add.empty());
  CHECK(friend_add[0].body["PairList"].size() == 2);
}

TEST_CASE("Sns and Profile callbacks, and per-target refusals", "[callback]") {
  WebhookReceiver receiver;
  receiver.OnCommand("Sns.CallbackPrevFriendAdd", [](const WebhookReceiver::Call& call) {
    json items = json::array();
    for (const auto& item : call.body["FriendItem"]) {
      bool refuse = item["To_Account"] == "carol";
      items.push_back({{"To_Account", item["To_Account"]},
                       {"ResultCode", refuse ? 38001 : 0},
                       {"ResultInfo", refuse ? "carol is off limits" : ""}});
    }
    return WebhookReceiver::Ok({{"ResultItem", items}});
  });
  TestCluster c(CallbackEnv(receiver));
  ImportAccounts(c, {"alice", "bob", "carol"});
  REQUIRE(c.Rest("profile/portrait_set",
                 R"({"From_Account":"bob","ProfileItem":[{"Tag":"Tag_Profile_IM_AllowType",
                     "Value":"AllowType_Type_AllowAny"}]})")["ErrorCode"] == 0);
  auto portrait = Matching(receiver, "Profile.CallbackPortraitSet",
                           [](const json& b) { return b["From_Account"] == "bob"; });
  REQUIRE(portrait.size() == 1);
  CHECK(portrait[0].body["Operator_Account"] == c.admin);
  CHECK(portrait[0].body["ProfileItem"][0]["Tag"] == "Tag_Profile_IM_AllowType");
  CHECK(portrait[0].body["ProfileItem"][0]["Value"] == "AllowType_Type_AllowAny");

  json added = c.Rest("sns/friend_add",
                      R"({"From_Account":"alice","AddFriendItem":[{"To_Account":"bob",
                          "AddSource":"AddSource_Type_Web"},{"To_Account":"carol"}]})");
  std::map<std::string, int> codes;
  for (const auto& item : added["ResultItem"]) codes[item["To_Account"]] = item["ResultCode"];
  CHECK(codes["bob"] == 0);
  CHECK(codes["carol"] == 38001);
  auto prev = receiver.WaitFor("Sns.CallbackPrevFriendAdd", 1);
  REQUIRE(prev.size() == 1);
  CHECK(prev[0].body["From_Account"] == "alice");
  CHECK(prev[0].body["AddType"] == "Add_Type_Both");
  CHECK(prev[0].body["FriendItem"].size() == 2);
  auto friend_add = receiver.WaitFor("Sns.CallbackFriendAdd", 1);
  REQUIRE(friend_add.size() == 1);
  CHECK(friend_add[0].body["ClientCmd"] == "friend_add");
  CHECK(friend_add[0].body["PairList"] ==
        json::parse(R"([{"From_Account":"alice","To_Account":"bob","Initiator_Account":"alice"},
                        {"From_Account":"bob","To_Account":"alice","Initiator_Account":"alice"}])"));

  // A request and its answer.
  REQUIRE(c.Rest("sns/friend_add", R"({"From_Account":"carol","AddFriendItem":[{"To_Account":"alice"}]})")
              ["ResultItem"][0]["ResultCode"] == 30539);
  REQUIRE(c.Rest("sns/pendency_response",
                 R"({"From_Account":"alice","ResponseFriendItem":[{"To_Account":"carol",
                     "ResponseAction":"Response_Action_AgreeAndAdd"}]})")["ResultItem"][0]
              ["ResultCode"] == 0);
  auto response = receiver.WaitFor("Sns.CallbackPrevFriendResponse", 1);
  REQUIRE(response.size() == 1);
  CHECK(response[0].body["ResponseFriendItem"][0]["ResponseAction"] ==
        "Response_Action_AgreeAndAdd");
  auto accepted = Matching(receiver, "Sns.CallbackFriendAdd",
                           [](const json& b) { return b["ClientCmd"] == "friend_response"; });
  REQUIRE(accepted.size() == 1);
  CHECK(accepted[0].body["PairList"].size() == 2);

  REQUIRE(c.Rest("sns/friend_delete", R"({"From_Account":"alice","To_Account":["bob"]})")["ErrorCode"] == 0);
  auto deleted = receiver.WaitFor("Sns.CallbackFriendDelete", 1);
  REQUIRE(deleted.size() == 1);
  CHECK(deleted[0].body["PairList"].size() == 2);
  REQUIRE(c.Rest("sns/black_list_add", R"({"From_Account":"alice","To_Account":["carol"]})")["ErrorCode"] == 0);
  auto blocked = receiver.WaitFor("Sns.CallbackBlackListAdd", 1);
  REQUIRE(blocked.size() == 1);
  CHECK(blocked[0].body["PairList"] == json::parse(R"([{"From_Account":"alice","To_Account":"carol"}])"));
  REQUIRE(c.Rest("sns/black_list_delete", R"({"From_Account":"alice","To_Account":["carol"]})")["ErrorCode"] == 0);
  CHECK(receiver.WaitFor("Sns.CallbackBlackListDelete", 1).size() == 1);
}

TEST_CASE("a bot account answers through REST sendmsg", "[callback]") {
  WebhookReceiver receiver;
  TestCluster* cluster = nullptr;
  receiver.OnCommand("Bot.OnC2CMessage", [&cluster](const WebhookReceiver::Call& call) {
    // The bot's backend answers out of band, as a real one would.
    std::string to = call.body["From_Account"];
    std::string text = "echo: " + TextOf(call.body);
    std::thread([cluster, to, text] {
      json reply = {{"From_Account", "@RBT#helper"}, {"To_Account", to}, {"MsgRandom", 99},
                    {"MsgBody", TextBody(text)}};
      cluster->Rest("openim/sendmsg", reply.dump());
    }).detach();
    return WebhookReceiver::Ok();
  });
  TestCluster c(CallbackEnv(receiver));
  cluster = &c;
  ImportAccounts(c, {"alice", "@RBT#helper"});
  WsClient alice(c.http_port);
  LoginOk(alice, c, "alice");
  REQUIRE(alice.SendText("@RBT#helper", "what time is it").contains("sendAck"));
  auto bot = receiver.WaitFor("Bot.OnC2CMessage", 1);
  REQUIRE(bot.size() == 1);
  CHECK(bot[0].body["To_Account"] == "@RBT#helper");
  bool answered = false;
  while (auto event = alice.NextEvent(5000)) {
    if ((*event)["message"]["From_Account"] == "@RBT#helper") {
      CHECK((*event)["message"]["MsgBody"][0]["MsgContent"]["Text"] == "echo: what time is it");
      answered = true;
      break;
    }
  }
  CHECK(answered);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the reply thread finish
}

TEST_CASE("delivered after-callbacks leave Redis: consumed queue entries are trimmed",
          "[callback]") {
  WebhookReceiver receiver;
  TestCluster c(CallbackEnv(receiver));
  auto options = parley::redis::Pool::ParseAddress(RequireEnv("PARLEY_TEST_REDIS_ADDR"));
  REQUIRE(options.ok());
  auto redis = parley::redis::Pool::Create(*options);
  REQUIRE(redis.ok());
  // Queue events the way producers do, each marked so the receiver knows it.
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    json payload = {{"From_Account", "trim_a"}, {"To_Account", "trim_b"},
                    {"MsgKey", "trim-" + std::to_string(c.sdkappid) + "-" + std::to_string(i)}};
    parley::callbacks::Event event{c.sdkappid, "C2C.CallbackAfterSendMsg", payload.dump(),
                                   "RESTAPI", "", 0, 0, ""};
    auto added = (*redis)->Command({"XADD", parley::callbacks::kQueueStream, "*", "m",
                                    parley::callbacks::EncodeEvent(event)});
    REQUIRE(added.ok());
    ids.push_back(added->str());
  }
  auto arrived = Matching(
      receiver, "C2C.CallbackAfterSendMsg",
      [&](const json& b) {
        return b.value("MsgKey", "").rfind("trim-" + std::to_string(c.sdkappid) + "-", 0) == 0;
      },
      20);
  REQUIRE(arrived.size() == 20);
  // Every consumer group acknowledged them: within a few trim rounds (1 s
  // each) none of the entries is left in the stream.
  size_t left = ids.size();
  for (int round = 0; round < 100 && left > 0; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    left = 0;
    for (const auto& id : ids) {
      auto entry = (*redis)->Command({"XRANGE", parley::callbacks::kQueueStream, id, id});
      REQUIRE(entry.ok());
      left += entry->raw()->elements;
    }
  }
  CHECK(left == 0);
}

TEST_CASE("a callback endpoint where nothing listens costs sends nothing, and nothing is lost",
          "[callback]") {
  WebhookReceiver receiver;
  receiver.Stop();  // its port: nothing listens there until Start()
  TestCluster c(Env{{"PARLEY_CALLBACK_URL", receiver.url()},
                    {"PARLEY_CALLBACK_TOKEN", kToken},
                    {"PARLEY_CALLBACK_BREAKER_COOLDOWN_MS", "300"},
                    {"PARLEY_CALLBACK_BREAKER_MAX_COOLDOWN_MS", "600"}});
  ImportAccounts(c, {"alice", "bob"});
  WsClient alice(c.http_port);
  LoginOk(alice, c, "alice");
  // Before- and after-send callbacks are both enabled (the bootstrap app
  // enables every command); the before-callback fails open (the default).
  std::set<std::string> keys;
  auto slowest = std::chrono::milliseconds(0);
  for (int i = 0; i < 40; ++i) {  // within the session's 50 sends per second
    auto start = std::chrono::steady_clock::now();
    json ack = alice.SendText("bob", "while nobody listens " + std::to_string(i));
    slowest = std::max(slowest, std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - start));
    INFO(ack.dump());
    REQUIRE(ack.contains("sendAck"));
    keys.insert(ack["sendAck"]["msgKey"].get<std::string>());
  }
  CHECK(slowest < std::chrono::milliseconds(1000));
  // The breaker opened and producers heard of it: most before-callbacks were
  // answered without a network attempt (by parley-callback, or by the
  // message service itself), and after-events wait parked for the app.
  CHECK(MetricValue(c.callback_metrics_port, "parley_callback_short_circuited_total") +
            MetricValue(c.message_metrics_port, "parley_callback_before_skipped_total") >
        20);
  auto options = parley::redis::Pool::ParseAddress(RequireEnv("PARLEY_TEST_REDIS_ADDR"));
  auto redis = parley::redis::Pool::Create(*options);
  REQUIRE(redis.ok());
  auto parked = (*redis)->Command({"XLEN", parley::callbacks::ParkedStream(c.sdkappid)});
  REQUIRE(parked.ok());
  CHECK(parked->integer() > 0);
  // The backend comes back: every after-callback is delivered.
  receiver.Start();
  auto arrived = Matching(
      receiver, "C2C.CallbackAfterSendMsg",
      [&](const json& b) { return keys.count(b["MsgKey"].get<std::string>()) > 0; }, keys.size(),
      30000);
  std::set<std::string> got;
  for (const auto& call : arrived) got.insert(call.body["MsgKey"].get<std::string>());
  CHECK(got == keys);
}
