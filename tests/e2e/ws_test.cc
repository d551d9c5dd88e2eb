// The client protocol end to end: parley-auth, -push, -message and two
// gateway instances, real WebSocket clients.
#include <signal.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "parley/errors/errors.h"
#include "parley/presence/presence.h"
#include "parley/redis/pool.h"
#include "parley/rpc/client.h"
#include "parley/v1/client.pb.h"
#include "parley/v1/message.grpc.pb.h"

#include "support/e2e_helpers.h"
#include "support/http_client.h"
#include "support/test_cluster.h"
#include "support/tls.h"
#include "support/ws_client.h"

using namespace parley::testing;
using nlohmann::json;

namespace {

std::string TextOf(const json& event) {
  return event["message"]["MsgBody"][0]["MsgContent"]["Text"];
}

// Reads events until none comes for `quiet_ms`; returns them in order.
std::vector<json> Drain(WsClient& client, int quiet_ms = 700) {
  std::vector<json> events;
  while (auto e = client.NextEvent(quiet_ms)) events.push_back(*e);
  return events;
}


}  // namespace

TEST_CASE("clients on two gateways exchange messages - other devices get both directions",
          "[ws]") {
  TestCluster c;
  int http_b = 0;
  Process gateway_b = c.StartExtraGateway(&http_b, "gw-b-" + std::to_string(c.sdkappid));

  WsClient alice_web(c.http_port);
  WsClient alice_pc(http_b);
  WsClient bob(http_b);
  LoginOk(alice_web, c, "alice", "Web");
  LoginOk(alice_pc, c, "alice", "PC");
  LoginOk(bob, c, "bob", "Android");

  json ack = alice_web.SendText("bob", "hello bob", "m1");
  INFO(ack.dump());
  REQUIRE(ack.contains("sendAck"));
  CHECK(SeqOf(ack["sendAck"]) == 1);
  std::string key = ack["sendAck"]["msgKey"];

  auto at_bob = bob.NextEvent();
  REQUIRE(at_bob);
  CHECK(SeqOf(*at_bob) == 1);
  CHECK((*at_bob)["kind"] == "KIND_MESSAGE");
  CHECK((*at_bob)["peer"] == "alice");
  CHECK((*at_bob)["message"]["From_Account"] == "alice");
  CHECK((*at_bob)["message"]["MsgKey"] == key);
  CHECK(TextOf(*at_bob) == "hello bob");
  auto at_alice_pc = alice_pc.NextEvent();
  REQUIRE(at_alice_pc);
  CHECK((*at_alice_pc)["peer"] == "bob");
  CHECK(TextOf(*at_alice_pc) == "hello bob");

  REQUIRE(bob.SendText("alice", "hi alice").contains("sendAck"));
  for (WsClient* device : {&alice_web, &alice_pc}) {
    std::vector<json> events = Drain(*device);
    REQUIRE_FALSE(events.empty());
    CHECK(TextOf(events.back()) == "hi alice");
    CHECK(SeqOf(events.back()) == 2);
  }
  CHECK(Drain(bob).size() == 1);  // bob's own message, in his timeline
}

TEST_CASE("a client that was away gets exactly what it missed, in order", "[ws]") {
  TestCluster c;
  WsClient alice(c.http_port);
  LoginOk(alice, c, "alice", "Web");
  uint64_t last_seq = 0;
  {
    WsClient bob(c.http_port);
    LoginOk(bob, c, "bob", "iPhone");
    alice.SendText("bob", "before");
    auto e = bob.NextEvent();
    REQUIRE(e);
    last_seq = SeqOf(*e);
  }  // bob disconnects
  for (int i = 0; i < 5; ++i) REQUIRE(alice.SendText("bob", "missed " + std::to_string(i)).contains("sendAck"));

  WsClient bob_again(c.http_port);
  LoginOk(bob_again, c, "bob", "iPhone", last_seq);
  std::vector<json> events = Drain(bob_again);
  REQUIRE(events.size() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(SeqOf(events[i]) == last_seq + 1 + i);
    CHECK(TextOf(events[i]) == "missed " + std::to_string(i));
  }

  SECTION("explicit sync pages through the timeline") {
    json page = bob_again.Call("s1", {{"sync", {{"afterSeq", "0"}, {"limit", 4}}}});
    REQUIRE(page.contains("syncResult"));
    CHECK(page["syncResult"]["events"].size() == 4);
    CHECK(page["syncResult"]["maxSeq"] == "6");
    CHECK_FALSE(page["syncResult"].value("complete", false));
  }
}

TEST_CASE("a gateway killed mid-stream loses nothing - the client resumes elsewhere", "[ws]") {
  TestCluster c;
  int http_b = 0;
  Process gateway_b = c.StartExtraGateway(&http_b, "gw-b-" + std::to_string(c.sdkappid));
  WsClient alice(c.http_port);
  LoginOk(alice, c, "alice", "Web");
  auto bob = std::make_unique<WsClient>(http_b);
  LoginOk(*bob, c, "bob", "Android");

  std::vector<std::string> received;
  uint64_t last_seq = 0;
  for (int i = 0; i < 10; ++i) {
    if (i == 4) gateway_b.Stop(SIGKILL, std::chrono::milliseconds(5000));
    REQUIRE(alice.SendText("bob", "m" + std::to_string(i), "k" + std::to_string(i))
                .contains("sendAck"));
    if (i < 4) {
      auto e = bob->NextEvent();
      REQUIRE(e);
      received.push_back(TextOf(*e));
      last_seq = SeqOf(*e);
    }
  }
  bob = std::make_unique<WsClient>(c.http_port);  // reconnect to the surviving gateway
  LoginOk(*bob, c, "bob", "Android", last_seq);
  for (const json& e : Drain(*bob)) {
    CHECK(SeqOf(e) == ++last_seq);
    received.push_back(TextOf(e));
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) expected.push_back("m" + std::to_string(i));
  CHECK(received == expected);
}

TEST_CASE("a resent message is not duplicated", "[ws]") {
  TestCluster c;
  AliceAndBob users(c);
  WsClient& alice = users.alice;
  WsClient& bob = users.bob;
  json first = alice.SendText("bob", "once", "client-id-1");
  json again = alice.SendText("bob", "once", "client-id-1");
  REQUIRE(first.contains("sendAck"));
  REQUIRE(again.contains("sendAck"));
  CHECK(again["sendAck"]["msgKey"] == first["sendAck"]["msgKey"]);
  CHECK(again["sendAck"].value("duplicate", false));
  CHECK(Drain(bob).size() == 1);

  // REST: the same From, To and MsgRandom within five minutes.
  json body = {{"From_Account", "alice"}, {"To_Account", "bob"}, {"MsgRandom", 777},
               {"MsgBody", {{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", "rest"}}}}}}};
  json r1 = c.Rest("openim/sendmsg", body.dump());
  json r2 = c.Rest("openim/sendmsg", body.dump());
  CHECK(r1["ErrorCode"] == 0);
  CHECK(r2["MsgKey"] == r1["MsgKey"]);
  CHECK(Drain(bob).size() == 1);
}

TEST_CASE("a gateway's gathered sends are stored in order and answered one by one", "[ws]") {
  TestCluster c;
  ImportAccounts(c, {"alice", "bob", "carol"});
  // Acting for other users takes the gateway's certificate.
  auto messages = parley::v1::MessageService::NewStub(
      TlsChannel(c.setting("PARLEY_MESSAGE_GRPC_ADDR"), "message", "gateway"));
  auto text = [](const std::string& to, const std::string& words) {
    parley::v1::SendC2CRequest r;
    r.set_to_account(to);
    auto* element = r.mutable_msg_body()->add_values()->mutable_struct_value()->mutable_fields();
    (*element)["MsgType"].set_string_value("TIMTextElem");
    (*element)["MsgContent"].mutable_struct_value()->mutable_fields()->operator[]("Text")
        .set_string_value(words);
    return r;
  };
  parley::v1::SendFromClientsRequest request;
  auto add = [&](const std::string& user, parley::v1::SendC2CRequest send) {
    auto* s = request.add_sends();
    s->set_user_id(user);
    s->set_platform("Web");
    *s->mutable_request() = std::move(send);
  };
  add("alice", text("bob", "one"));
  add("alice", text("nobody", "lost"));  // not registered
  auto as_other = text("bob", "forged");
  as_other.set_from_account("alice");  // carol can't send as alice
  add("carol", as_other);
  auto empty_body = text("bob", "x");
  empty_body.clear_msg_body();
  add("alice", empty_body);
  add("alice", text("bob", "two"));
  add("carol", text("bob", "three"));
  add("", text("bob", "from nobody"));  // no logged-in user

  // Only internal callers (the gateway) may send for other users.
  for (bool internal : {false, true}) {
    parley::rpc::Caller caller = internal
                                     ? parley::rpc::ServiceCaller(c.sdkappid, "parley-gateway")
                                     : parley::rpc::Caller{c.sdkappid, "alice", false};
    auto context = parley::rpc::NewContext(&caller, std::chrono::milliseconds(5000));
    parley::v1::SendFromClientsResponse response;
    grpc::Status status = messages->SendFromClients(context.get(), request, &response);
    if (!internal) {
      REQUIRE_FALSE(status.ok());
      CHECK(parley::errors::TencentCode(parley::errors::FromGrpc(status)) == 90009);
      continue;
    }
    REQUIRE(status.ok());
    REQUIRE(response.outcomes_size() == 7);
    std::vector<int> codes;
    for (const auto& outcome : response.outcomes()) codes.push_back(outcome.error_code());
    CHECK(codes == std::vector<int>{0, 90012, 20003, 90002, 0, 0, 90008});
    CHECK(response.outcomes(0).response().sender_seq() == 1);
    CHECK(response.outcomes(4).response().sender_seq() == 2);
    CHECK(response.outcomes(5).response().sender_seq() == 1);
    CHECK_FALSE(response.outcomes(1).error_info().empty());
  }

  // Bob's timeline has the three stored messages, in the order they were sent.
  WsClient bob(c.http_port);
  json ack = LoginOk(bob, c, "bob", "Web", 0);
  std::vector<std::string> texts;
  for (const auto& e : Drain(bob)) texts.push_back(TextOf(e));
  CHECK(texts == std::vector<std::string>{"one", "two", "three"});

  // Gateways read many users' timeline heads at once, in request order.
  auto heads = [&](bool internal, std::vector<std::string> users,
                   parley::v1::GetTimelineHeadsResponse* response) {
    parley::rpc::Caller caller = internal
                                     ? parley::rpc::ServiceCaller(c.sdkappid, "parley-gateway")
                                     : parley::rpc::Caller{c.sdkappid, "alice", true};
    auto context = parley::rpc::NewContext(&caller, std::chrono::milliseconds(5000));
    parley::v1::GetTimelineHeadsRequest request;
    for (auto& user : users) request.add_user_ids(user);
    grpc::Status status = messages->GetTimelineHeads(context.get(), request, response);
    return status.ok() ? 0 : parley::errors::TencentCode(parley::errors::FromGrpc(status));
  };
  parley::v1::GetTimelineHeadsResponse response;
  REQUIRE(heads(true, {"bob", "nobody", "alice", "carol"}, &response) == 0);
  CHECK(std::vector<uint64_t>(response.max_seqs().begin(), response.max_seqs().end()) ==
        std::vector<uint64_t>{3, 0, 2, 1});
  CHECK(heads(false, {"alice"}, &response) == 90009);
  CHECK(heads(true, std::vector<std::string>(1001, "bob"), &response) == 90001);
}

TEST_CASE("binary and JSON sessions of one user get the same events in their encodings",
          "[ws]") {
  TestCluster c;
  WsClient alice(c.http_port);
  WsClient bob_web(c.http_port);  // JSON text frames
  WsClient bob_app(c.http_port);  // protobuf binary frames
  LoginOk(alice, c, "alice", "Web");
  LoginOk(bob_web, c, "bob", "Web");
  parley::v1::ClientFrame login;
  login.set_id("l");
  login.mutable_login()->set_sdkappid(c.sdkappid);
  login.mutable_login()->set_user_id("bob");
  login.mutable_login()->set_usersig(c.Sig("bob"));
  login.mutable_login()->set_platform("Android");
  bob_app.SendBinary(login.SerializeAsString());
  auto ack_bytes = bob_app.NextBytes();
  REQUIRE(ack_bytes);
  parley::v1::ServerFrame ack;
  REQUIRE(ack.ParseFromString(*ack_bytes));
  REQUIRE(ack.has_login_ack());

  for (int i = 1; i <= 2; ++i) {
    std::string words = "hello " + std::to_string(i);
    REQUIRE(alice.SendText("bob", words).contains("sendAck"));
    auto as_json = bob_web.NextEvent();
    REQUIRE(as_json);
    CHECK(SeqOf(*as_json) == static_cast<uint64_t>(i));
    CHECK(TextOf(*as_json) == words);
    auto as_bytes = bob_app.NextBytes();
    REQUIRE(as_bytes);
    parley::v1::ServerFrame frame;
    REQUIRE(frame.ParseFromString(*as_bytes));
    REQUIRE(frame.has_event());
    CHECK(frame.event().seq() == static_cast<uint64_t>(i));
    CHECK(frame.event().peer() == "alice");
    CHECK(frame.event().message().msg_body().values(0).struct_value().fields().at("MsgContent")
              .struct_value().fields().at("Text").string_value() == words);
  }
}

TEST_CASE("an event whose push never came reaches the session at its next heartbeat", "[ws]") {
  TestCluster c;
  AliceAndBob users(c);
  WsClient& alice = users.alice;
  WsClient& bob = users.bob;
  REQUIRE(alice.SendText("bob", "pushed").contains("sendAck"));
  auto first = bob.NextEvent();
  REQUIRE(first);

  // With push down, the message is stored but its push is given up on after
  // the message service's retries: no later event reveals the gap.
  c.push.Stop(SIGKILL, std::chrono::milliseconds(5000));
  REQUIRE(alice.SendText("bob", "never pushed").contains("sendAck"));
  auto failed_deliveries = [&] {
    return MetricValue(c.message_metrics_port, "parley_delivery_failed_total");
  };
  for (int i = 0; i < 100 && failed_deliveries() <= 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(failed_deliveries() > 0);
  CHECK_FALSE(bob.NextEvent(300));

  // The heartbeat has the gateway read bob's timeline head from storage.
  CHECK(bob.Call("h", {{"heartbeat", json::object()}}).contains("heartbeatAck"));
  auto missed = bob.NextEvent();
  REQUIRE(missed);
  CHECK(TextOf(*missed) == "never pushed");
  CHECK(SeqOf(*missed) == SeqOf(*first) + 1);
  // Only once, however many heartbeats follow.
  CHECK(bob.Call("h2", {{"heartbeat", json::object()}}).contains("heartbeatAck"));
  CHECK_FALSE(bob.NextEvent(700));
}

TEST_CASE("only stored messages to a user with an offline device go to offline push", "[ws]") {
  TestCluster c;
  ImportAccounts(c, {"carol", "dave"});  // dave: never online, no device
  {
    // carol's phone registers its token, then its connection drops.
    WsClient phone(c.http_port);
    LoginOk(phone, c, "carol", "Android");
    REQUIRE(phone.Call("t", {{"pushToken", {{"channel", "FCM"}, {"token", "carol-phone"}}}})
                .contains("ack"));
  }
  auto offline_pushes = [&] {
    return MetricValue(c.push_metrics_port, "parley_push_offline_total");
  };
  WsClient alice(c.http_port);
  LoginOk(alice, c, "alice", "Web");
  REQUIRE(alice.SendText("dave", "nobody to notify").contains("sendAck"));
  json ack = alice.SendText("carol", "while you were out");
  REQUIRE(ack.contains("sendAck"));
  // Alice's own copy is for an online user and not a message to her.
  json recalled = alice.Call(
      "r", {{"recall", {{"To_Account", "carol"}, {"MsgKey", ack["sendAck"]["msgKey"]}}}});
  CHECK(recalled.contains("ack"));
  REQUIRE(alice.SendText("alice", "note to self").contains("sendAck"));
  // Deliveries go out in order: once alice has this one, push has seen the rest.
  bool noted = false;
  while (auto e = alice.NextEvent()) {
    if ((*e)["kind"] == "KIND_MESSAGE" && (*e)["message"]["To_Account"] == "alice") {
      noted = true;
      break;
    }
  }
  REQUIRE(noted);
  CHECK(offline_pushes() == 1);  // the message, not its recall
}

TEST_CASE("a new login in the same platform class kicks the old one - REST kick ends all",
          "[ws]") {
  TestCluster c;
  WsClient phone(c.http_port);
  WsClient desktop(c.http_port);
  LoginOk(phone, c, "carol", "iPhone");
  LoginOk(desktop, c, "carol", "Mac");
  WsClient other_phone(c.http_port);
  LoginOk(other_phone, c, "carol", "Android");
  CHECK(phone.NextKick() == std::optional<std::string>("login_elsewhere"));

  json status = c.Rest("openim/query_online_status",
                       json{{"To_Account", {"carol", "", "nobody", std::string(33, 'x')}},
                            {"IsNeedDetail", 1}}.dump());
  REQUIRE(status["ErrorCode"] == 0);
  REQUIRE(status["QueryResult"].size() == 2);
  CHECK(status["QueryResult"][0]["Status"] == "Online");
  CHECK(status["QueryResult"][0]["Detail"].size() == 2);
  CHECK(status["QueryResult"][1]["To_Account"] == "nobody");
  CHECK(status["QueryResult"][1]["Status"] == "Offline");
  CHECK(status["ErrorList"].size() == 2);  // the empty and the 33-byte ids
  // Only invalid ids: answered per id, no lookup at all.
  CHECK(c.Rest("openim/query_online_status", R"({"To_Account":[""]})")["ErrorList"].size() == 1);

  CHECK(c.Rest("im_open_login_svc/kick", R"({"UserID":"carol"})")["ErrorCode"] == 0);
  CHECK(desktop.NextKick() == std::optional<std::string>("admin_kick"));
  CHECK(other_phone.NextKick() == std::optional<std::string>("admin_kick"));
}

TEST_CASE("bad frames get error frames and change nothing", "[ws]") {
  TestCluster c;
  WsClient client(c.http_port);
  auto error_code = [](const std::optional<json>& frame) {
    REQUIRE(frame);
    INFO(frame->dump());
    REQUIRE(frame->contains("error"));
    return (*frame)["error"]["errorCode"].get<int>();
  };
  client.SendText("this is not json");
  CHECK(error_code(client.Next()) == 20001);
  client.SendText(std::string(100000, '{'));
  CHECK(error_code(client.Next()) == 20001);
  client.Send({{"id", "x"}, {"login", {{"sdkappid", "not a number"}}}});
  {
    // Valid JSON with a field of the wrong type: answered with its id.
    auto answer = client.Next();
    CHECK(error_code(answer) == 20001);
    CHECK((*answer)["id"] == "x");
    CHECK((*answer)["error"]["errorInfo"].get<std::string>().find("sdkappid") != std::string::npos);
  }
  client.SendBinary("\xff\xff\xff garbage");
  CHECK(error_code(client.Next()) == 20001);
  // Before login every request but login is refused as "not logged in".
  CHECK(client.Call("s", {{"send", {{"to", "bob"}}}})["error"]["errorCode"] == 6014);
  CHECK(client.Login(c.sdkappid, "alice", c.Sig("mallory"), "Web")["error"]["errorCode"] == 70013);
  CHECK(client.Login(c.sdkappid, "alice", c.Sig("alice"), "Toaster")["error"]["errorCode"] ==
        20001);
  // A request this server does not know (a newer client's), before or after login.
  json unknown = client.Call("u", {{"teleport", {{"to", "mars"}}}});
  CHECK(unknown["error"]["errorCode"] == 6017);
  // Still usable after all that.
  LoginOk(client, c, "alice", "Web");
  CHECK(client.Call("u2", {{"teleport", json::object()}})["error"]["errorCode"] == 6017);
  // A second login on the same connection.
  CHECK(client.Login(c.sdkappid, "alice", c.Sig("alice"), "Web")["error"]["errorCode"] == 6015);
  json bad_body = client.Call("b", {{"send", {{"to", "bob"}, {"body", {{{"MsgType", "TIMTextElem"}}}}}}});
  CHECK(bad_body["error"]["errorCode"] == 90002);
  // A client can't speak for another user: a "from" field is ignored.
  WsClient bob(c.http_port);
  LoginOk(bob, c, "bob", "Web");
  client.Call("f", {{"send", {{"to", "bob"}, {"from", "mallory"},
                               {"body", {{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", "x"}}}}}}}}});
  auto e = bob.NextEvent();
  REQUIRE(e);
  CHECK((*e)["message"]["From_Account"] == "alice");
  CHECK(c.Rest("im_open_login_svc/account_check", R"({"CheckItem":[{"UserID":"mallory"}]})")
            ["ResultItem"][0]["AccountStatus"] == "NotImported");
}

TEST_CASE("openim REST: sends reach online clients - errors have their codes", "[ws][rest]") {
  TestCluster c;
  c.Rest("im_open_login_svc/multiaccount_import", R"({"Accounts":["alice","bob"]})");
  WsClient bob(c.http_port);
  LoginOk(bob, c, "bob", "Web");
  json text = {{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", "from the backend"}}}}};

  json sent = c.Rest("openim/sendmsg",
                     json{{"From_Account", "alice"}, {"To_Account", "bob"}, {"MsgRandom", 1},
                          {"MsgBody", text}, {"CloudCustomData", "cd"}}.dump());
  INFO(sent.dump());
  REQUIRE(sent["ErrorCode"] == 0);
  CHECK(sent["MsgTime"].is_number());
  CHECK(sent["MsgKey"].get<std::string>().find("_1_") != std::string::npos);
  auto e = bob.NextEvent();
  REQUIRE(e);
  CHECK(TextOf(*e) == "from the backend");
  CHECK((*e)["message"]["CloudCustomData"] == "cd");

  auto code = [&](const std::string& endpoint, const json& body) {
    return c.Rest(endpoint, body.dump())["ErrorCode"].get<int>();
  };
  CHECK(code("openim/sendmsg", {{"To_Account", "bob"}, {"MsgBody", text}}) == 90005);
  CHECK(code("openim/sendmsg", {{"To_Account", "ghost"}, {"MsgRandom", 2}, {"MsgBody", text}}) ==
        90012);
  CHECK(code("openim/sendmsg", {{"MsgRandom", 2}, {"MsgBody", text}}) == 90003);
  CHECK(code("openim/sendmsg", {{"To_Account", "bob"}, {"MsgRandom", 2}, {"MsgBody", json::array()}}) ==
        90002);
  CHECK(code("openim/sendmsg", {{"To_Account", "bob"}, {"MsgRandom", 2}, {"MsgBody", "text"}}) ==
        90001);
  CHECK(code("openim/sendmsg", {{"To_Account", "bob"}, {"MsgRandom", 2}, {"MsgLifeTime", 604801},
                                {"MsgBody", text}}) == 90026);
  json long_text = {{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", std::string(13000, 'x')}}}}};
  CHECK(code("openim/sendmsg", {{"To_Account", "bob"}, {"MsgRandom", 2}, {"MsgBody", long_text}}) ==
        80002);
  CHECK(code("openim/batchsendmsg", {{"To_Account", "bob"}, {"MsgRandom", 3}, {"MsgBody", text}}) ==
        90028);
  CHECK(code("openim/batchsendmsg", {{"To_Account", json::array()}, {"MsgRandom", 3}, {"MsgBody", text}}) ==
        90029);
  json many = json::array();
  for (int i = 0; i < 501; ++i) many.push_back("u" + std::to_string(i));
  CHECK(code("openim/batchsendmsg", {{"To_Account", many}, {"MsgRandom", 3}, {"MsgBody", text}}) ==
        90011);
  HttpResponse non_admin = HttpPost(c.http_port, c.Target("openim/sendmsg", "bob", c.Sig("bob")), "{}");
  CHECK(json::parse(non_admin.body)["ErrorCode"] == 90009);
  CHECK(Drain(bob).empty());  // none of the refused sends arrived

  json batch = c.Rest("openim/batchsendmsg",
                      json{{"From_Account", "alice"}, {"To_Account", {"bob", "ghost"}},
                           {"MsgRandom", 4}, {"MsgBody", text}}.dump());
  CHECK(batch["ErrorCode"] == 0);
  CHECK(batch["ErrorList"] == json::parse(R"([{"To_Account":"ghost","ErrorCode":90012}])"));
  CHECK(Drain(bob).size() == 1);

  json online_only = c.Rest("openim/sendmsg",
                            json{{"From_Account", "alice"}, {"To_Account", "bob"}, {"MsgRandom", 5},
                                 {"MsgLifeTime", 0}, {"MsgBody", text}}.dump());
  CHECK(online_only["ErrorCode"] == 0);
  auto live = bob.NextEvent();
  REQUIRE(live);
  CHECK(SeqOf(*live) == 0);  // delivered, never stored
}

TEST_CASE("recall, edit and read receipts reach the peer - REST sees the same state",
          "[ws][rest]") {
  TestCluster c;
  AliceAndBob users(c);
  WsClient& alice = users.alice;
  WsClient& bob = users.bob;
  std::vector<std::string> keys;
  for (int i = 0; i < 3; ++i) {
    json ack = alice.SendText("bob", "msg " + std::to_string(i));
    REQUIRE(ack.contains("sendAck"));
    keys.push_back(ack["sendAck"]["msgKey"]);
  }
  CHECK(Drain(bob).size() == 3);
  Drain(alice);

  json unread = c.Rest("openim/get_c2c_unread_msg_num", R"({"To_Account":"bob"})");
  CHECK(unread["AllC2CUnreadMsgNum"] == 3);
  CHECK(unread["C2CUnreadMsgNumList"][0] == json{{"Peer_Account", "alice"}, {"C2CUnreadMsgNum", 3}});

  // Recall: the peer gets a recall event; history shows MsgFlagBits 8; unread drops.
  json recalled = alice.Call("r", {{"recall", {{"To_Account", "bob"}, {"MsgKey", keys[0]}}}});
  CHECK(recalled.contains("ack"));
  auto recall_event = bob.NextEvent();
  REQUIRE(recall_event);
  CHECK((*recall_event)["kind"] == "KIND_RECALL");
  CHECK((*recall_event)["msgKey"] == keys[0]);
  CHECK(alice.Call("r2", {{"recall", {{"To_Account", "bob"}, {"MsgKey", keys[0]}}}})["error"]["errorCode"] == 20023);
  // Only the sender may recall; an unknown key is not found.
  CHECK(bob.Call("r3", {{"recall", {{"To_Account", "alice"}, {"MsgKey", keys[1]}}}})["error"]["errorCode"] == 20003);
  CHECK(alice.Call("r4", {{"recall", {{"To_Account", "bob"}, {"MsgKey", "1_1_1"}}}})["error"]["errorCode"] == 20022);
  CHECK(c.Rest("openim/get_c2c_unread_msg_num", R"({"To_Account":"bob"})")["AllC2CUnreadMsgNum"] == 2);

  // Edit: the peer gets the new content.
  json edited = alice.Call("e", {{"edit", {{"To_Account", "bob"}, {"MsgKey", keys[1]},
      {"MsgBody", {{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", "edited"}}}}}}}}});
  CHECK(edited.contains("ack"));
  auto edit_event = bob.NextEvent();
  REQUIRE(edit_event);
  CHECK((*edit_event)["kind"] == "KIND_EDIT");
  CHECK(TextOf(*edit_event) == "edited");

  // Read: bob's unread clears and alice gets a receipt.
  CHECK(bob.Call("rd", {{"read", {{"Peer_Account", "alice"}}}}).contains("ack"));
  std::vector<json> at_alice = Drain(alice);
  bool receipt = false;
  for (const auto& e : at_alice) receipt |= e["kind"] == "KIND_READ_RECEIPT" && e["peer"] == "bob";
  CHECK(receipt);
  CHECK(c.Rest("openim/get_c2c_unread_msg_num", R"({"To_Account":"bob"})")["AllC2CUnreadMsgNum"] == 0);

  // History from bob's side, newest first, paged.
  json page1 = c.Rest("openim/admin_getroammsg",
                      R"({"Operator_Account":"bob","Peer_Account":"alice","MaxCnt":2,"MinTime":0,"MaxTime":0})");
  INFO(page1.dump());
  REQUIRE(page1["ErrorCode"] == 0);
  CHECK(page1["Complete"] == 0);
  CHECK(page1["MsgCnt"] == 2);
  CHECK(page1["MsgList"][0]["MsgBody"][0]["MsgContent"]["Text"] == "msg 2");
  CHECK(page1["MsgList"][1]["MsgBody"][0]["MsgContent"]["Text"] == "edited");
  json page2 = c.Rest("openim/admin_getroammsg",
                      json{{"Operator_Account", "bob"}, {"Peer_Account", "alice"}, {"MaxCnt", 2},
                           {"MaxTime", page1["LastMsgTime"]}, {"LastMsgKey", page1["LastMsgKey"]}}.dump());
  CHECK(page2["Complete"] == 1);
  REQUIRE(page2["MsgList"].size() == 1);
  CHECK(page2["MsgList"][0]["MsgFlagBits"] == 8);
  json from_alice = c.Rest("openim/admin_getroammsg",
                           R"({"Operator_Account":"alice","Peer_Account":"bob","MaxCnt":10})");
  CHECK(from_alice["MsgList"][0]["IsPeerRead"] == 1);

  // Delete for one side: gone from bob's history only.
  json deleted = c.Rest("openim/delete_c2c_msg_ramble",
                        json{{"Operator_Account", "bob"}, {"Peer_Account", "alice"},
                             {"MsgKeyList", {keys[2], "1_2_3"}}}.dump());
  CHECK(deleted["InvalidMsgKeyList"] == json::array({"1_2_3"}));
  CHECK(c.Rest("openim/admin_getroammsg", R"({"Operator_Account":"bob","Peer_Account":"alice","MaxCnt":10})")["MsgCnt"] == 2);
  CHECK(from_alice["MsgCnt"] == 3);

  // REST withdraw (no time limit) and modify.
  CHECK(c.Rest("openim/admin_msgwithdraw",
                json{{"From_Account", "alice"}, {"To_Account", "bob"}, {"MsgKey", keys[2]}}.dump())["ErrorCode"] == 0);
  CHECK(c.Rest("openim/modify_c2c_msg",
                json{{"From_Account", "alice"}, {"To_Account", "bob"}, {"MsgKey", keys[2]},
                     {"MsgBody", {{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", "x"}}}}}}}.dump())["ErrorCode"] == 20023);

  // Import: stored and roamed, not pushed; a repeat is ignored.
  json import = {{"SyncFromOldSystem", 2}, {"From_Account", "bob"}, {"To_Account", "alice"},
                 {"MsgSeq", 9}, {"MsgRandom", 99}, {"MsgTimeStamp", 1600000000},
                 {"MsgBody", {{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", "old"}}}}}}};
  CHECK(c.Rest("openim/importmsg", import.dump())["ErrorCode"] == 0);
  CHECK(c.Rest("openim/importmsg", import.dump())["ErrorCode"] == 0);
  json oldest = c.Rest("openim/admin_getroammsg",
                       R"({"Operator_Account":"alice","Peer_Account":"bob","MaxCnt":100,"MaxTime":1700000000})");
  REQUIRE(oldest["MsgCnt"] == 1);
  CHECK(oldest["MsgList"][0]["MsgKey"] == "9_99_1600000000");

  // Conversations.
  json list = c.Rest("recentcontact/get_list", R"({"From_Account":"alice","TimeStamp":0,"StartIndex":0})");
  REQUIRE(list["SessionItem"].size() == 1);
  CHECK(list["SessionItem"][0]["To_Account"] == "bob");
  CHECK(list["SessionItem"][0]["Type"] == 1);
  CHECK(list["CompleteFlag"] == 1);
  // Pinned conversations come first.
  REQUIRE(c.Rest("im_open_login_svc/account_import", R"({"UserID":"carl"})")["ErrorCode"] == 0);
  CHECK(alice.Call("p0", {{"send", {{"to", "carl"}, {"body", {{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", "c"}}}}}}}}}).contains("sendAck"));
  CHECK(c.Rest("recentcontact/get_list", R"({"From_Account":"alice"})")["SessionItem"][0]["To_Account"] == "carl");
  CHECK(alice.Call("p1", {{"pin", {{"To_Account", "bob"}, {"Pinned", true}}}}).contains("ack"));
  json pinned = c.Rest("recentcontact/get_list", R"({"From_Account":"alice"})");
  CHECK(pinned["SessionItem"][0]["To_Account"] == "bob");
  CHECK(pinned["SessionItem"][0]["TopFlag"] == 1);
  CHECK(alice.Call("p2", {{"pin", {{"To_Account", "alice"}, {"Pinned", true}}}})["error"]["errorCode"] == 50002);
  // REST recentcontact/top: unpin bob, pin carl; bad items change nothing.
  CHECK(c.Rest("recentcontact/top", R"({"From_Account":"alice","OperationType":2,
      "RecentContactItem":[{"Type":1,"To_Account":"bob"}]})")["ErrorCode"] == 0);
  CHECK(c.Rest("recentcontact/get_list", R"({"From_Account":"alice"})")["SessionItem"][0]["TopFlag"] == 0);
  CHECK(c.Rest("recentcontact/top", R"({"From_Account":"alice","OperationType":1,
      "RecentContactItem":[{"Type":1,"To_Account":"carl"},{"Type":1,"To_Account":"alice"}]})")["ErrorCode"] == 50002);
  CHECK(c.Rest("recentcontact/top", R"({"From_Account":"alice","OperationType":3,
      "RecentContactItem":[{"Type":1,"To_Account":"carl"}]})")["ErrorCode"] == 50002);
  CHECK(c.Rest("recentcontact/top", R"({"From_Account":"alice","OperationType":1,
      "RecentContactItem":[]})")["ErrorCode"] == 50002);
  CHECK(c.Rest("recentcontact/get_list", R"({"From_Account":"alice"})")["SessionItem"][0]["TopFlag"] == 0);
  CHECK(c.Rest("recentcontact/top", R"({"From_Account":"alice","OperationType":1,
      "RecentContactItem":[{"Type":1,"To_Account":"carl"}]})")["ErrorCode"] == 0);
  json top = c.Rest("recentcontact/get_list", R"({"From_Account":"alice"})");
  CHECK(top["SessionItem"][0]["To_Account"] == "carl");
  CHECK(top["SessionItem"][0]["TopFlag"] == 1);
  CHECK(c.Rest("recentcontact/top", R"({"From_Account":"alice","OperationType":2,
      "RecentContactItem":[{"Type":1,"To_Account":"carl"}]})")["ErrorCode"] == 0);
  CHECK(alice.Call("p3", {{"pin", {{"To_Account", "bob"}, {"Pinned", true}}}}).contains("ack"));

  // REST read mark: bob reads up to now; alice gets a receipt.
  REQUIRE(alice.SendText("bob", "unread one").contains("sendAck"));
  Drain(alice);
  CHECK(c.Rest("openim/get_c2c_unread_msg_num", R"({"To_Account":"bob","Peer_Account":["alice"]})")
            ["C2CUnreadMsgNumList"][0]["C2CUnreadMsgNum"] == 1);
  CHECK(c.Rest("openim/admin_set_msg_read", R"({"Report_Account":"bob","Peer_Account":"alice"})")["ErrorCode"] == 0);
  CHECK(c.Rest("openim/get_c2c_unread_msg_num", R"({"To_Account":"bob"})")["AllC2CUnreadMsgNum"] == 0);
  auto rest_receipt = alice.NextEvent();
  REQUIRE(rest_receipt);
  CHECK((*rest_receipt)["kind"] == "KIND_READ_RECEIPT");
  CHECK(c.Rest("openim/admin_set_msg_read", R"({"Peer_Account":"alice"})")["ErrorCode"] == 90008);

  CHECK(c.Rest("recentcontact/delete", R"({"From_Account":"alice","Type":1,"To_Account":"bob"})")["ErrorCode"] == 0);
  CHECK(c.Rest("recentcontact/get_list", R"({"From_Account":"alice"})")["SessionItem"].size() == 1);
  CHECK(c.Rest("recentcontact/delete", R"({"From_Account":"alice","Type":2,"To_Account":"bob"})")["ErrorCode"] == 50002);
}

TEST_CASE("login, logout, kicks and timeouts are recorded with their reasons", "[ws]") {
  TestCluster c(Env{{"PARLEY_WS_HEARTBEAT_SECONDS", "1"}});
  auto options = parley::redis::Pool::ParseAddress(RequireEnv("PARLEY_TEST_REDIS_ADDR"));
  auto redis = parley::redis::Pool::Create(*options);
  REQUIRE(redis.ok());
  // parley-callback trims what every consumer group acknowledged: a group of
  // this test's own, which reads nothing, keeps the records here to look at.
  std::string observer = "observer-" + std::to_string(c.sdkappid);
  REQUIRE((*redis)->Command({"XGROUP", "CREATE", parley::presence::kStateChangeStream, observer,
                             "$", "MKSTREAM"})
              .ok());
  {
    WsClient phone(c.http_port);
    LoginOk(phone, c, "dave", "iPhone");
    WsClient tablet(c.http_port);
    LoginOk(tablet, c, "dave", "iPad");  // same class: kicks the phone
    REQUIRE(phone.NextKick() == std::optional<std::string>("login_elsewhere"));
    CHECK(tablet.Call("bye", {{"logout", json::object()}}).contains("logoutAck"));
  }
  {
    WsClient silent(c.http_port);
    LoginOk(silent, c, "erin", "Web");
    // No heartbeats: the gateway closes after 3 intervals.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
    while (!silent.closed() && std::chrono::steady_clock::now() < deadline) silent.Next(200);
    CHECK(silent.closed());
  }
  std::vector<std::string> seen;
  for (int attempt = 0; attempt < 20 && seen.size() < 6; ++attempt) {
    seen.clear();
    auto entries = (*redis)->Command({"XREVRANGE", parley::presence::kStateChangeStream, "+", "-",
                                      "COUNT", "2000"});
    REQUIRE(entries.ok());
    const redisReply* r = entries->raw();
    for (size_t i = r->elements; i-- > 0;) {
      const redisReply* fields = r->element[i]->element[1];
      std::map<std::string, std::string> f;
      for (size_t k = 0; k + 1 < fields->elements; k += 2) {
        f[fields->element[k]->str] = std::string(fields->element[k + 1]->str, fields->element[k + 1]->len);
      }
      if (f["app"] != std::to_string(c.sdkappid)) continue;
      seen.push_back(f["user"] + " " + f["action"] + " " + f["reason"] + " " + f["platform"] +
                     (f["kicked"].empty() ? "" : " kicked:" + f["kicked"]));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // The kicked session's logout and the new login are recorded concurrently,
  // so only each session's own login-before-logout order is causal.
  auto position = [&](const std::string& entry) {
    return std::find(seen.begin(), seen.end(), entry) - seen.begin();
  };
  CHECK(position("dave Login Register iPhone") < position("dave Logout Kicked iPhone"));
  CHECK(position("dave Login Register iPad kicked:iPhone") < position("dave Logout Unregister iPad"));
  CHECK(position("erin Login Register Web") < position("erin Disconnect TimeOut Web"));
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::string>{
                    "dave Login Register iPad kicked:iPhone", "dave Login Register iPhone",
                    "dave Logout Kicked iPhone", "dave Logout Unregister iPad",
                    "erin Disconnect TimeOut Web", "erin Login Register Web"});
  CHECK((*redis)->Command({"XGROUP", "DESTROY", parley::presence::kStateChangeStream, observer})
            .ok());
}

TEST_CASE("a read mark reaches the reader's other devices, in their timeline", "[ws]") {
  TestCluster c;
  ImportAccounts(c, {"alice", "bob"});
  WsClient phone(c.http_port), web(c.http_port), bob(c.http_port);
  LoginOk(phone, c, "alice", "Android");
  LoginOk(web, c, "alice", "Web");
  LoginOk(bob, c, "bob", "Web");
  json sent = bob.SendText("alice", "read me");
  REQUIRE(sent.contains("sendAck"));
  REQUIRE(phone.NextEvent());
  REQUIRE(web.NextEvent());
  bob.NextEvent();  // bob's own copy
  json read = web.Call("r", {{"read", {{"Peer_Account", "bob"}}}});
  INFO(read.dump());
  REQUIRE(read.contains("ack"));
  // The phone hears that the conversation with bob was read...
  auto mark = phone.NextEvent();
  REQUIRE(mark);
  CHECK((*mark)["kind"] == "KIND_READ");
  CHECK((*mark)["peer"] == "bob");
  CHECK((*mark).contains("readTime"));
  // ...so does the device that read, as the same timeline event...
  auto own = web.NextEvent();
  REQUIRE(own);
  CHECK((*own)["kind"] == "KIND_READ");
  CHECK(SeqOf(*own) == SeqOf(*mark));
  // ...and bob gets his receipt.
  auto receipt = bob.NextEvent();
  REQUIRE(receipt);
  CHECK((*receipt)["kind"] == "KIND_READ_RECEIPT");
  // A device that was away finds it in its timeline.
  WsClient tablet(c.http_port);
  json ack = LoginOk(tablet, c, "alice", "PC", 0);
  std::vector<std::string> kinds;
  while (auto e = tablet.NextEvent(1000)) kinds.push_back((*e)["kind"]);
  CHECK(kinds == std::vector<std::string>{"KIND_MESSAGE", "KIND_READ"});
}

TEST_CASE("a send to oneself is one timeline event whose seq the sendAck gives", "[ws]") {
  TestCluster c;
  ImportAccounts(c, {"alice"});
  WsClient web(c.http_port), phone(c.http_port);
  LoginOk(web, c, "alice", "Web");
  LoginOk(phone, c, "alice", "Android");
  json ack = web.SendText("alice", "note to self", "self-1");
  INFO(ack.dump());
  REQUIRE(ack.contains("sendAck"));
  uint64_t seq = std::stoull(ack["sendAck"]["seq"].get<std::string>());
  CHECK(seq > 0);
  for (WsClient* device : {&web, &phone}) {
    auto event = device->NextEvent();
    REQUIRE(event);
    CHECK(SeqOf(*event) == seq);
    CHECK((*event)["peer"] == "alice");
    CHECK_FALSE(device->NextEvent(500).has_value());  // once, not twice
  }
  // A retry is answered with the same seq.
  json again = web.SendText("alice", "note to self", "self-1");
  CHECK(again["sendAck"]["duplicate"] == true);
  CHECK(again["sendAck"]["seq"] == ack["sendAck"]["seq"]);
}
