// Group messages end to end: send_group_msg over REST and the client
// protocol, delivery by gateway to every session of every member across two
// gateways, tips that change who receives, mutes, recall, history and the
// one-call catch-up after a reconnect.
#include <catch2/catch.hpp>

#include <pqxx/pqxx>
#include <csignal>
#include <set>
#include <thread>

#include "parley/presence/presence.h"
#include "parley/redis/pool.h"
#include "support/e2e_helpers.h"
#include "support/test_cluster.h"
#include "support/webhook_receiver.h"

using namespace parley::testing;
using nlohmann::json;

namespace {

json Text(const std::string& text) {
  return json::array({{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", text}}}}});
}

uint64_t Seq(const json& event) { return std::stoull(event.value("Seq", std::string("0"))); }

std::string TextOf(const json& event) {
  return event["Message"]["MsgBody"][0]["MsgContent"]["Text"];
}

// The next group event of `group` that is a message or a shown tip.
json NextIn(WsClient& client, const std::string& group, int timeout_ms = 5000) {
  for (;;) {
    auto event = client.NextGroupEvent(timeout_ms);
    REQUIRE(event.has_value());
    if ((*event)["GroupId"] == group) return *event;
  }
}

}  // namespace

TEST_CASE("group messages reach every session of every member across two gateways, once and "
          "in order",
          "[group][groupmsg][ws]") {
  TestCluster c;
  int http_b = 0;
  Process gateway_b = c.StartExtraGateway(&http_b, "gw-gb-" + std::to_string(c.sdkappid));
  ImportAccounts(c, {"owner", "ann", "ben", "cat"});
  std::string id = Group(c, "create_group", {{"Owner_Account", "owner"},
                                              {"Type", "Public"},
                                              {"Name", "Team"},
                                              {"MemberList", {{{"Member_Account", "ann"}},
                                                              {{"Member_Account", "ben"}}}}})["GroupId"];
  // ann on two devices on gateway A, ben on gateway B, cat (not a member) on A.
  WsClient ann_phone(c.http_port), ann_web(c.http_port), ben(http_b), cat(c.http_port);
  LoginOk(ann_phone, c, "ann", "Android");
  LoginOk(ann_web, c, "ann", "Web");
  LoginOk(ben, c, "ben", "iPhone");
  LoginOk(cat, c, "cat");

  // REST: the seq follows the creation tip (seq 1).
  json sent = Group(c, "send_group_msg",
                    {{"GroupId", id}, {"From_Account", "ann"}, {"Random", 7}, {"MsgBody", Text("hi")}});
  REQUIRE(Code(sent) == 0);
  CHECK(sent["MsgSeq"] == 2);
  for (WsClient* client : {&ann_phone, &ann_web, &ben}) {
    json event = NextIn(*client, id);
    CHECK(event["Kind"] == "KIND_MESSAGE");
    CHECK(Seq(event) == 2);
    CHECK(TextOf(event) == "hi");
    CHECK(event["Message"]["From_Account"] == "ann");
  }
  CHECK_FALSE(cat.NextGroupEvent(300).has_value());
  // The same Random within 5 minutes: the first message's seq, nothing new.
  json again = Group(c, "send_group_msg",
                     {{"GroupId", id}, {"From_Account", "ann"}, {"Random", 7}, {"MsgBody", Text("hi")}});
  CHECK(again["MsgSeq"] == 2);

  // A client send (api frame), retried with the same ClientMsgId.
  json body = {{"GroupId", id}, {"ClientMsgId", "b-1"}, {"MsgBody", Text("from ben")}};
  json first = UserCall(ben, "send_group_msg", body);
  REQUIRE(UserCode(first) == 0);
  CHECK(first["MsgSeq"] == 3);
  json retry = UserCall(ben, "send_group_msg", body);
  CHECK(retry["MsgSeq"] == 3);
  CHECK(retry["Duplicate"] == true);
  for (WsClient* client : {&ann_phone, &ann_web, &ben}) {
    json event = NextIn(*client, id);
    CHECK(Seq(event) == 3);
    CHECK(TextOf(event) == "from ben");
  }
  for (WsClient* client : {&ann_phone, &ann_web, &ben}) {
    CHECK_FALSE(client->NextGroupEvent(300).has_value());  // the retry delivered nothing
  }

  // The groupSend frame: the same send, answered with groupSendAck.
  json frame_body = {{"GroupId", id}, {"ClientMsgId", "b-2"}, {"MsgBody", Text("by frame")}};
  json ack = ben.Call("gs1", {{"groupSend", frame_body}});
  REQUIRE(ack.contains("groupSendAck"));
  CHECK(ack["groupSendAck"]["MsgSeq"] == 4);
  json ack_again = ben.Call("gs2", {{"groupSend", frame_body}});
  CHECK(ack_again["groupSendAck"]["MsgSeq"] == 4);
  CHECK(ack_again["groupSendAck"]["Duplicate"] == true);
  for (WsClient* client : {&ann_phone, &ann_web, &ben}) CHECK(TextOf(NextIn(*client, id)) == "by frame");
  json refused = cat.Call("gs3", {{"groupSend", {{"GroupId", id}, {"MsgBody", Text("x")}}}});
  REQUIRE(refused.contains("error"));
  CHECK(refused["error"]["errorCode"] == 10007);

  // Refusals, with Tencent's codes and nothing stored.
  CHECK(UserCode(UserCall(cat, "send_group_msg", {{"GroupId", id}, {"MsgBody", Text("x")}})) ==
        10007);
  CHECK(Code(Group(c, "send_group_msg", {{"GroupId", id}, {"From_Account", "cat"}, {"Random", 1},
                                         {"MsgBody", Text("x")}})) == 10007);
  CHECK(Code(Group(c, "send_group_msg",
                   {{"GroupId", "no-such-group"}, {"Random", 1}, {"MsgBody", Text("x")}})) == 10010);
  CHECK(Code(Group(c, "send_group_msg", {{"GroupId", id}, {"MsgBody", Text("x")}})) == 10004);
  CHECK(Code(Group(c, "send_group_msg", {{"GroupId", id}, {"Random", 1},
                                         {"MsgPriority", "Urgent"}, {"MsgBody", Text("x")}})) ==
        10004);
  json ats = json::array();
  for (int i = 0; i < 31; ++i) ats.push_back({{"GroupAt_Account", "ann"}});
  CHECK(Code(Group(c, "send_group_msg", {{"GroupId", id}, {"Random", 2}, {"GroupAtInfo", ats},
                                         {"MsgBody", Text("x")}})) == 10053);
  CHECK(Code(Group(c, "send_group_msg",
                   {{"GroupId", id}, {"Random", 3},
                    {"MsgBody", json::array({{{"MsgType", "TIMNoSuchElem"}}})}})) == 10004);
  CHECK(Code(c.Rest("group_open_http_svc/send_group_msg", "{\"GroupId\":")) == 10011);
  json history = Group(c, "group_msg_get_simple", {{"GroupId", id}, {"ReqMsgNumber", 20}});
  REQUIRE(Code(history) == 0);
  CHECK(history["RspMsgList"].size() == 4);  // the tip and three messages
  CHECK(history["IsFinished"] == 1);
  CHECK(history["RspMsgList"][0]["MsgSeq"] == 4);

  // A mute: the member's sends fail with 10017 (the app's do not).
  REQUIRE(Code(Group(c, "forbid_send_msg",
                     {{"GroupId", id}, {"Members_Account", {"ben"}}, {"MuteTime", 60}})) == 0);
  CHECK(UserCode(UserCall(ben, "send_group_msg", {{"GroupId", id}, {"MsgBody", Text("x")}})) ==
        10017);
  for (WsClient* client : {&ann_phone, &ben}) {
    json tip = NextIn(*client, id);
    CHECK(tip["Kind"] == "KIND_TIP");
    CHECK(tip["Tip"]["Type"] == "MemberMuted");
  }

  // A kick: ben sees the tip, then nothing more; ann goes on.
  REQUIRE(Code(Group(c, "delete_group_member",
                     {{"GroupId", id}, {"MemberToDel_Account", {"ben"}}})) == 0);
  json kicked = NextIn(ben, id);
  CHECK(kicked["Tip"]["Type"] == "MemberKicked");
  REQUIRE(Code(Group(c, "send_group_msg", {{"GroupId", id}, {"From_Account", "owner"},
                                           {"Random", 9}, {"MsgBody", Text("after")}})) == 0);
  CHECK(NextIn(ann_phone, id)["Tip"]["Type"] == "MemberKicked");
  CHECK(TextOf(NextIn(ann_phone, id)) == "after");
  CHECK_FALSE(ben.NextGroupEvent(500).has_value());
  CHECK(UserCode(UserCall(ben, "group_msg_get_simple", {{"GroupId", id}, {"ReqMsgNumber", 5}})) ==
        10007);

  // Recall: members their own within two minutes, never others'.
  REQUIRE(Code(Group(c, "add_group_member",
                     {{"GroupId", id}, {"MemberList", {{{"Member_Account", "cat"}}}}})) == 0);
  json joined = NextIn(cat, id);
  CHECK(joined["Tip"]["Type"] == "MemberJoined");
  json mine = UserCall(cat, "send_group_msg", {{"GroupId", id}, {"MsgBody", Text("oops")}});
  REQUIRE(UserCode(mine) == 0);
  uint32_t oops = mine["MsgSeq"];
  json others = UserCall(cat, "group_msg_recall", {{"GroupId", id}, {"MsgSeqList", {{{"MsgSeq", 2}}}}});
  CHECK(others["RecallRetList"][0]["RetCode"] == 10007);
  json recalled = UserCall(cat, "group_msg_recall",
                           {{"GroupId", id}, {"MsgSeqList", {{{"MsgSeq", oops}}, {{"MsgSeq", 999}}}}});
  CHECK(recalled["RecallRetList"][0]["RetCode"] == 0);
  CHECK(recalled["RecallRetList"][1]["RetCode"] == 10030);
  bool saw_recall = false;
  for (int i = 0; i < 10 && !saw_recall; ++i) {
    json event = NextIn(ann_web, id);
    saw_recall = event["Kind"] == "KIND_RECALL" && Seq(json{{"Seq", event.value("TargetSeq", "0")}}) == oops;
  }
  CHECK(saw_recall);
  json without = Group(c, "group_msg_get_simple", {{"GroupId", id}, {"ReqMsgNumber", 1}});
  CHECK(without["RspMsgList"][0]["MsgSeq"] != oops);
  json with = Group(c, "group_msg_get_simple",
                    {{"GroupId", id}, {"ReqMsgNumber", 1}, {"WithRecalledMsg", 1}});
  CHECK(with["RspMsgList"][0]["MsgSeq"] == oops);
  CHECK(with["RspMsgList"][0]["MsgFlagBits"] == 8);
  // cat joined a Public group: history before joining is hidden.
  json cats = UserCall(cat, "group_msg_get_simple", {{"GroupId", id}, {"ReqMsgNumber", 20}});
  for (const auto& m : cats["RspMsgList"]) CHECK(m["MsgSeq"].get<uint32_t>() >= oops - 1);
}

TEST_CASE("after a reconnect one call tells which groups have news, and each is fetched once, "
          "in order",
          "[group][groupmsg][ws]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "dan"});
  std::vector<std::string> groups;
  for (int i = 0; i < 3; ++i) {
    groups.push_back(Group(c, "create_group", {{"Owner_Account", "owner"},
                                                {"Type", "Private"},
                                                {"Name", "g" + std::to_string(i)},
                                                {"MemberList", {{{"Member_Account", "dan"}}}}})["GroupId"]);
  }
  std::map<std::string, uint64_t> held;  // what dan's device holds, per group
  {
    WsClient dan(c.http_port);
    LoginOk(dan, c, "dan");
    json states = dan.Call("s1", {{"groupStates", json::object()}});
    REQUIRE(states.contains("groupStates"));
    REQUIRE(states["groupStates"]["groups"].size() == 3);
    for (const auto& g : states["groupStates"]["groups"]) {
      held[g["groupId"]] = std::stoull(g.value("maxSeq", std::string("0")));
    }
  }
  // While dan is away: two messages in the first group, one in the third.
  for (auto [group, n] : std::vector<std::pair<std::string, int>>{{groups[0], 2}, {groups[2], 1}}) {
    for (int i = 0; i < n; ++i) {
      REQUIRE(Code(Group(c, "send_group_msg",
                         {{"GroupId", group}, {"From_Account", "owner"}, {"Random", 100 + i},
                          {"MsgBody", Text(group + "/" + std::to_string(i))}})) == 0);
    }
  }
  WsClient dan(c.http_port);
  LoginOk(dan, c, "dan");
  json states = dan.Call("s2", {{"groupStates", json::object()}});
  std::map<std::string, json> by_group;
  for (const auto& g : states["groupStates"]["groups"]) by_group[g["groupId"]] = g;
  REQUIRE(by_group.size() == 3);
  CHECK(std::stoull(by_group[groups[1]].value("maxSeq", std::string("0"))) == held[groups[1]]);
  CHECK(by_group[groups[0]]["unread"] == 2);
  CHECK(by_group[groups[2]]["unread"] == 1);
  for (int g : {0, 2}) {
    json range = dan.Call("r" + std::to_string(g),
                          {{"groupRange", {{"groupId", groups[g]},
                                           {"afterSeq", std::to_string(held[groups[g]])}}}});
    REQUIRE(range.contains("groupRange"));
    const json& events = range["groupRange"]["events"];
    REQUIRE(events.size() == (g == 0 ? 2u : 1u));
    for (size_t i = 0; i < events.size(); ++i) {
      CHECK(Seq(events[i]) == held[groups[g]] + 1 + i);
      CHECK(TextOf(events[i]) == groups[g] + "/" + std::to_string(i));
    }
  }
  // Or every group at once: one groupRanges call for all three.
  json cursors = json::array();
  for (const auto& g : groups) cursors.push_back({{"groupId", g}, {"afterSeq", std::to_string(held[g])}});
  cursors.push_back({{"groupId", "not-mine"}, {"afterSeq", "0"}});
  json all = dan.Call("rs", {{"groupRanges", {{"cursors", cursors}}}});
  REQUIRE(all.contains("groupRanges"));
  const json& ranges = all["groupRanges"]["ranges"];
  REQUIRE(ranges.size() == 4);
  CHECK(ranges[0]["events"].size() == 2);
  CHECK_FALSE(ranges[1].contains("events"));
  CHECK(ranges[2]["events"].size() == 1);
  CHECK(TextOf(ranges[2]["events"][0]) == groups[2] + "/0");
  for (int g = 0; g < 3; ++g) CHECK(ranges[g].value("complete", false));
  CHECK(ranges[3]["errorCode"] == 10007);

  // Read: the unread count goes to 0.
  json read = dan.Call("rd", {{"groupRead", {{"GroupId", groups[0]}}}});
  CHECK(read.contains("ack"));
  json after = dan.Call("s3", {{"groupStates", {{"groupIds", {groups[0]}}}}});
  CHECK(after["groupStates"]["groups"][0].value("unread", 0) == 0);
  // Group conversations in recentcontact: groups with messages, newest first.
  auto list = [&] {
    json answer = c.Rest("recentcontact/get_list",
                         json({{"From_Account", "dan"}, {"TimeStamp", 0}, {"StartIndex", 0},
                               {"TopTimeStamp", 0}, {"TopStartIndex", 0}, {"AssistFlags", 1}})
                             .dump());
    REQUIRE(answer["ErrorCode"] == 0);
    std::vector<std::string> ids;
    for (const auto& item : answer.value("SessionItem", json::array())) {
      if (item["Type"] == 2) ids.push_back(item["GroupId"]);
    }
    return ids;
  };
  // (Newest first; these came within a second or two, so compare as sets.)
  auto as_set = [](std::vector<std::string> v) { return std::set<std::string>(v.begin(), v.end()); };
  CHECK(as_set(list()) == std::set<std::string>{groups[2], groups[0]});
  REQUIRE(c.Rest("recentcontact/delete", json({{"From_Account", "dan"}, {"Type", 2},
                                               {"ToGroupid", groups[2]}}).dump())["ErrorCode"] == 0);
  CHECK(list() == std::vector<std::string>{groups[0]});
  REQUIRE(Code(Group(c, "send_group_msg", {{"GroupId", groups[2]}, {"From_Account", "owner"},
                                           {"Random", 555}, {"MsgBody", Text("back")}})) == 0);
  CHECK(as_set(list()) == std::set<std::string>{groups[2], groups[0]});
  REQUIRE(c.Rest("recentcontact/top",
                 json({{"From_Account", "dan"}, {"OperationType", 1},
                       {"RecentContactItem", {{{"Type", 2}, {"GroupId", groups[0]}}}}})
                     .dump())["ErrorCode"] == 0);
  CHECK(list() == std::vector<std::string>{groups[0], groups[2]});  // pinned first
  CHECK(c.Rest("recentcontact/delete", json({{"From_Account", "dan"}, {"Type", 2},
                                             {"ToGroupid", "not-his"}}).dump())["ErrorCode"] != 0);

  // A non-member reads nothing.
  ImportAccounts(c, {"eve"});
  WsClient eve(c.http_port);
  LoginOk(eve, c, "eve");
  json denied = eve.Call("e1", {{"groupRange", {{"groupId", groups[0]}}}});
  REQUIRE(denied.contains("error"));
  CHECK(denied["error"]["errorCode"] == 10007);
}

TEST_CASE("Group.CallbackBeforeSendMsg allows, refuses, drops and rewrites, and after-send and "
          "after-recall report",
          "[group][groupmsg][callback]") {
  WebhookReceiver receiver;
  receiver.OnCommand("Group.CallbackBeforeSendMsg", [](const WebhookReceiver::Call& call) {
    std::string text = call.body["MsgBody"][0]["MsgContent"].value("Text", "");
    if (text == "refuse") return WebhookReceiver::Ok({{"ErrorCode", 1}});
    if (text == "custom") return WebhookReceiver::Ok({{"ErrorCode", 10150}, {"ErrorInfo", "nope"}});
    if (text == "drop") return WebhookReceiver::Ok({{"ErrorCode", 2}});
    if (text == "rewrite") return WebhookReceiver::Ok({{"ErrorCode", 0}, {"MsgBody", Text("clean")}});
    return WebhookReceiver::Ok();
  });
  TestCluster c({{"PARLEY_CALLBACK_URL", receiver.url()}});
  ImportAccounts(c, {"owner", "ann"});
  std::string id = Group(c, "create_group", {{"Owner_Account", "owner"},
                                              {"Type", "Public"},
                                              {"Name", "Hooks"},
                                              {"MemberList", {{{"Member_Account", "ann"}}}}})["GroupId"];
  WsClient ann(c.http_port);
  LoginOk(ann, c, "ann");
  auto send = [&](const std::string& text, uint32_t random) {
    return Group(c, "send_group_msg", {{"GroupId", id}, {"From_Account", "owner"},
                                       {"Random", random}, {"MsgBody", Text(text)}});
  };
  CHECK(Code(send("refuse", 1)) == 10016);
  json custom = send("custom", 2);
  CHECK(Code(custom) == 10150);
  CHECK(custom["ErrorInfo"] == "nope");
  json dropped = send("drop", 3);
  CHECK(Code(dropped) == 0);
  CHECK(dropped["MsgDropReason"] == "CallbackDropped");
  json rewritten = send("rewrite", 4);
  REQUIRE(Code(rewritten) == 0);
  uint32_t seq = rewritten["MsgSeq"];
  CHECK(seq == 2);  // refused and dropped messages took no seq
  json event = NextIn(ann, id);
  CHECK(Seq(event) == seq);
  CHECK(TextOf(event) == "clean");
  // Forbidden callbacks are not asked.
  json forbidden = Group(c, "send_group_msg",
                         {{"GroupId", id}, {"From_Account", "owner"}, {"Random", 5},
                          {"ForbidCallbackControl", {"ForbidBeforeSendMsgCallback"}},
                          {"MsgBody", Text("refuse")}});
  CHECK(Code(forbidden) == 0);

  auto after = receiver.WaitFor("Group.CallbackAfterSendMsg", 2);
  REQUIRE(after.size() >= 2);
  CHECK(after[0].body["GroupId"] == id);
  CHECK(after[0].body["MsgSeq"] == seq);
  CHECK(after[0].body["MsgBody"][0]["MsgContent"]["Text"] == "clean");
  CHECK(after[0].body["From_Account"] == "owner");
  CHECK(after[0].body["Type"] == "Public");
  // A message that @-mentions a robot account goes to Bot.OnGroupMessage too.
  REQUIRE(Code(Group(c, "send_group_msg",
                     {{"GroupId", id}, {"From_Account", "ann"}, {"Random", 6},
                      {"GroupAtInfo", {{{"GroupAt_Account", "@RBT#helper"}}}},
                      {"MsgBody", Text("hello robot")}})) == 0);
  auto bots = receiver.WaitFor("Bot.OnGroupMessage", 1);
  REQUIRE(bots.size() == 1);
  CHECK(bots[0].body["AtRobotAccount"] == json::array({"@RBT#helper"}));
  CHECK(bots[0].body["GroupId"] == id);
  CHECK(bots[0].body["From_Account"] == "ann");
  REQUIRE(Code(Group(c, "group_msg_recall", {{"GroupId", id}, {"MsgSeqList", {{{"MsgSeq", seq}}}}})) ==
          0);
  auto recalls = receiver.WaitFor("Group.CallbackAfterRecallMsg", 1);
  REQUIRE(recalls.size() == 1);
  CHECK(recalls[0].body["MsgSeqList"] == json::array({{{"MsgSeq", seq}}}));
  CHECK(recalls[0].body["Operator_Account"] == c.admin);
  // A read receipt reports who read what, with the counts after it.
  json asks = Group(c, "send_group_msg", {{"GroupId", id}, {"From_Account", "owner"}, {"Random", 7},
                                          {"NeedReadReceipt", 1}, {"MsgBody", Text("read me")}});
  REQUIRE(Code(asks) == 0);
  REQUIRE(UserCode(UserCall(ann, "group_msg_receipt",
                            {{"GroupId", id}, {"MsgSeqList", {{{"MsgSeq", asks["MsgSeq"]}}}}})) == 0);
  auto receipts = receiver.WaitFor("Group.CallbackAfterReadReceipt", 1);
  REQUIRE(receipts.size() == 1);
  CHECK(receipts[0].body["GroupId"] == id);
  CHECK(receipts[0].body["Operator_Account"] == "ann");
  REQUIRE(receipts[0].body["GroupMsgReceiptList"].size() == 1);
  CHECK(receipts[0].body["GroupMsgReceiptList"][0]["MsgSeq"] == asks["MsgSeq"]);
  CHECK(receipts[0].body["GroupMsgReceiptList"][0]["ReadNum"] == 1);
  CHECK(receipts[0].body["GroupMsgReceiptList"][0]["UnreadNum"] == 0);  // the sender does not count
}

TEST_CASE("a group message that cannot be stored is refused with 10002, reported by "
          "Group.CallbackSendMsgException, and takes no seq",
          "[group][groupmsg][callback]") {
  WebhookReceiver receiver;
  TestCluster c({{"PARLEY_CALLBACK_URL", receiver.url()}});
  ImportAccounts(c, {"owner", "ann"});
  std::string id = Group(c, "create_group", {{"Owner_Account", "owner"},
                                              {"Type", "Public"},
                                              {"Name", "Broken disk"},
                                              {"MemberList", {{{"Member_Account", "ann"}}}}})["GroupId"];
  auto send = [&](const std::string& text, uint32_t random) {
    return Group(c, "send_group_msg", {{"GroupId", id}, {"From_Account", "ann"},
                                       {"Random", random}, {"MsgBody", Text(text)}});
  };
  json first = send("first", 1);
  REQUIRE(Code(first) == 0);

  // PostgreSQL refuses this group's rows only (as a full disk would), after
  // every check has passed: other tests' groups are untouched.
  pqxx::connection pg(RequireEnv("PARLEY_TEST_PG_URL"));
  std::string name = "parley_test_refuse_" + std::to_string(c.sdkappid);
  auto ddl = [&](const std::string& sql) {
    pqxx::work tx(pg);
    tx.exec(sql);
    tx.commit();
  };
  ddl("CREATE FUNCTION " + name + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
      " RAISE EXCEPTION 'disk full (test)'; END $$");
  ddl("CREATE TRIGGER " + name + " BEFORE INSERT ON group_events FOR EACH ROW WHEN (NEW.group_id = " +
      pg.quote(id) + ") EXECUTE FUNCTION " + name + "()");
  json lost = send("lost", 2);
  ddl("DROP TRIGGER " + name + " ON group_events");
  ddl("DROP FUNCTION " + name + "()");
  CHECK(Code(lost) == 10002);
  std::string info = lost.value("ErrorInfo", "");
  CHECK_FALSE(info.empty());
  CHECK(info.find("disk full") == std::string::npos);  // PostgreSQL's words stay inside
  CHECK(info.find("ERROR") == std::string::npos);

  auto failed = receiver.WaitFor("Group.CallbackSendMsgException", 1);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].body["GroupId"] == id);
  CHECK(failed[0].body["From_Account"] == "ann");
  CHECK(failed[0].body["ErrorCode"] == 10002);
  CHECK(failed[0].body["MsgBody"][0]["MsgContent"]["Text"] == "lost");

  // Storage back: the next message takes the very next seq.
  json after = send("after", 3);
  REQUIRE(Code(after) == 0);
  CHECK(after["MsgSeq"].get<uint64_t>() == first["MsgSeq"].get<uint64_t>() + 1);
  auto sent = receiver.WaitFor("Group.CallbackAfterSendMsg", 2);
  for (const auto& call : sent) CHECK(call.body["MsgBody"][0]["MsgContent"]["Text"] != "lost");
}

TEST_CASE("a membership change answers while push is down, and members get its tip, in order, "
          "once push is back",
          "[group][groupmsg][ws]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "ben"});
  std::string id = Group(c, "create_group", {{"Owner_Account", "owner"},
                                              {"Type", "Public"},
                                              {"Name", "Outage"},
                                              {"MemberList", {{{"Member_Account", "ann"}}}}})["GroupId"];
  WsClient ann(c.http_port);
  LoginOk(ann, c, "ann");
  auto send = [&](const std::string& text, uint32_t random) {
    json answer = Group(c, "send_group_msg", {{"GroupId", id}, {"From_Account", "owner"},
                                              {"Random", random}, {"MsgBody", Text(text)}});
    REQUIRE(Code(answer) == 0);
    return answer["MsgSeq"].get<uint64_t>();
  };
  send("before", 1);
  CHECK(TextOf(NextIn(ann, id)) == "before");

  c.push.Stop(SIGKILL, std::chrono::milliseconds(5000));
  json added = Group(c, "add_group_member",
                     {{"GroupId", id}, {"MemberList", {{{"Member_Account", "ben"}}}}});
  REQUIRE(Code(added) == 0);  // stored; its push waits for push to come back
  c.StartPush();
  uint64_t after = send("after", 2);

  // The tip (by the queued retry, or fetched by seq when "after" shows the
  // gap), then the message: each once, in seq order.
  json tip = NextIn(ann, id, 10000);
  CHECK(tip["Tip"]["Type"] == "MemberJoined");
  CHECK(Seq(tip) == after - 1);
  json message = NextIn(ann, id, 10000);
  CHECK(TextOf(message) == "after");
  CHECK(Seq(message) == after);
  CHECK_FALSE(ann.NextGroupEvent(500).has_value());
  json roles = Group(c, "get_role_in_group", {{"GroupId", id}, {"User_Account", {"ben"}}});
  CHECK(roles["UserIdList"][0]["Role"] == "Member");
}

TEST_CASE("group message edits, deletion by sender and history, imports, unread counts, system "
          "notifications and read receipts",
          "[group][groupmsg][ws]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "ben", "cat"});
  std::string id = Group(c, "create_group", {{"Owner_Account", "owner"},
                                              {"Type", "Public"},
                                              {"Name", "More"},
                                              {"MemberList", {{{"Member_Account", "ann"}},
                                                              {{"Member_Account", "ben"}}}}})["GroupId"];
  WsClient ann(c.http_port), ben(c.http_port);
  LoginOk(ann, c, "ann");
  LoginOk(ben, c, "ben");
  auto send = [&](const std::string& from, const std::string& text, uint32_t random,
                  json extra = json::object()) {
    json body = {{"GroupId", id}, {"From_Account", from}, {"Random", random}, {"MsgBody", Text(text)}};
    body.update(extra);
    json answer = Group(c, "send_group_msg", body);
    REQUIRE(Code(answer) == 0);
    return answer["MsgSeq"].get<uint32_t>();
  };

  // Edit: the sender (or the app) replaces a body; members get an edit event.
  uint32_t first = send("ann", "typo", 1);
  CHECK(TextOf(NextIn(ben, id)) == "typo");
  CHECK(UserCode(UserCall(ben, "modify_group_msg",
                          {{"GroupId", id}, {"MsgSeq", first}, {"MsgBody", Text("x")}}, "openim")) ==
        10007);
  CHECK(UserCode(UserCall(ann, "modify_group_msg",
                          {{"GroupId", id}, {"MsgSeq", first}, {"MsgBody", Text("fixed")}},
                          "openim")) == 0);
  json edit = NextIn(ben, id);
  CHECK(edit["Kind"] == "KIND_EDIT");
  CHECK(TextOf(edit) == "fixed");
  CHECK(Code(c.Rest("openim/modify_group_msg",
                    json({{"GroupId", id}, {"MsgSeq", 999}, {"MsgBody", Text("x")}}).dump())) == 10030);
  CHECK(Code(c.Rest("openim/modify_group_msg",
                    json({{"GroupId", id}, {"MsgSeq", 1}, {"MsgBody", Text("x")}}).dump())) == 10032);
  json history = Group(c, "group_msg_get_simple", {{"GroupId", id}, {"ReqMsgNumber", 1}});
  CHECK(history["RspMsgList"][0]["MsgBody"][0]["MsgContent"]["Text"] == "fixed");

  // delete_group_msg_by_sender recalls a member's messages; the app only.
  uint32_t spam1 = send("ben", "spam", 2);
  uint32_t spam2 = send("ben", "spam", 3);
  CHECK(UserCode(UserCall(ann, "delete_group_msg_by_sender",
                          {{"GroupId", id}, {"Sender_Account", "ben"}})) == 10007);
  REQUIRE(Code(Group(c, "delete_group_msg_by_sender",
                     {{"GroupId", id}, {"Sender_Account", "ben"}})) == 0);
  std::set<uint64_t> recalled;
  for (int i = 0; i < 6 && recalled.size() < 2; ++i) {
    json event = NextIn(ann, id);
    if (event["Kind"] == "KIND_RECALL") recalled.insert(std::stoull(event["TargetSeq"].get<std::string>()));
  }
  CHECK(recalled == std::set<uint64_t>{spam1, spam2});
  CHECK(Code(Group(c, "delete_group_msg_by_sender", {{"GroupId", id}})) == 10004);

  // Unread counts: set by the app, and read from the member's state.
  send("owner", "one", 4);
  send("owner", "two", 5, {{"SendMsgControl", {"NoUnread"}}});
  send("owner", "three", 6);
  REQUIRE(Code(Group(c, "set_unread_msg_num",
                     {{"GroupId", id}, {"Member_Account", "ben"}, {"UnreadMsgNum", 1}})) == 0);
  json states = ben.Call("s", {{"groupStates", {{"groupIds", {id}}}}});
  CHECK(states["groupStates"]["groups"][0]["unread"] == 1);
  CHECK(Code(Group(c, "set_unread_msg_num",
                   {{"GroupId", id}, {"Member_Account", "cat"}, {"UnreadMsgNum", 1}})) == 10007);

  // System notifications: to some members, or all; stored in the seq.
  REQUIRE(Code(Group(c, "send_group_system_notification",
                     {{"GroupId", id}, {"Content", "for ben"}, {"ToMembers_Account", {"ben"}}})) == 0);
  json note;
  do note = NextIn(ben, id); while (note["Kind"] != "KIND_TIP");
  CHECK(note["Tip"]["Type"] == "SystemNotification");
  CHECK(note["Tip"]["Detail"] == "for ben");
  for (int i = 0; i < 3; ++i) {
    auto event = ann.NextGroupEvent(300);
    if (!event) break;
    CHECK((*event)["Kind"] != "KIND_TIP");  // ann gets no copy
  }
  CHECK(Code(Group(c, "send_group_system_notification", {{"GroupId", id}})) == 10004);

  // Read receipts: ben reads ann's message; ann sees the count move.
  uint32_t asks = send("ann", "read me", 7, {{"NeedReadReceipt", 1}});
  REQUIRE(UserCode(UserCall(ben, "group_msg_receipt",
                            {{"GroupId", id}, {"MsgSeqList", {{{"MsgSeq", asks}}}}})) == 0);
  json receipt;
  do receipt = NextIn(ann, id); while (receipt["Kind"] != "KIND_RECEIPT");
  CHECK(receipt["Reader"] == "ben");
  CHECK(receipt["ReadNum"] == 1);
  CHECK(receipt["UnreadNum"] == 1);  // the owner
  json counts = Group(c, "get_group_msg_receipt", {{"GroupId", id}, {"MsgSeqList", {{{"MsgSeq", asks}}}}});
  REQUIRE(Code(counts) == 0);
  CHECK(counts["GroupMsgReceiptList"][0]["ReadNum"] == 1);
  CHECK(counts["GroupMsgReceiptList"][0]["UnreadNum"] == 1);
  // Several seqs in one call: those that asked for no receipt, or do not
  // exist, are left out.
  json several = Group(c, "get_group_msg_receipt",
                       {{"GroupId", id},
                        {"MsgSeqList", {{{"MsgSeq", first}}, {{"MsgSeq", asks}}, {{"MsgSeq", 99999}}}}});
  REQUIRE(Code(several) == 0);
  REQUIRE(several["GroupMsgReceiptList"].size() == 1);
  CHECK(several["GroupMsgReceiptList"][0]["MsgSeq"] == asks);
  CHECK(several["GroupMsgReceiptList"][0]["ReadNum"] == 1);
  json detail = Group(c, "get_group_msg_receipt_detail", {{"GroupId", id}, {"MsgSeq", asks}});
  CHECK(detail["ReadList"] == json::array({{{"Read_Account", "ben"}}}));
  CHECK(detail["UnreadList"] == json::array({{{"Unread_Account", "owner"}}}));
  CHECK(detail["IsFinished"] == 1);
  // A member who joins a Public group later sees no receipts of messages
  // from before: they are not theirs to read.
  REQUIRE(Code(Group(c, "add_group_member",
                     {{"GroupId", id}, {"MemberList", {{{"Member_Account", "cat"}}}}})) == 0);
  CHECK(NextIn(ann, id)["Tip"]["Type"] == "MemberJoined");
  WsClient cat(c.http_port);
  LoginOk(cat, c, "cat");
  json cats = UserCall(cat, "get_group_msg_receipt", {{"GroupId", id}, {"MsgSeqList", {{{"MsgSeq", asks}}}}});
  REQUIRE(UserCode(cats) == 0);
  CHECK(cats.value("GroupMsgReceiptList", json::array()).empty());
  CHECK(UserCode(UserCall(cat, "get_group_msg_receipt_detail", {{"GroupId", id}, {"MsgSeq", asks}})) ==
        10030);
  CHECK(UserCode(UserCall(ben, "get_group_msg_receipt_detail", {{"GroupId", id}, {"MsgSeq", asks}})) ==
        0);
  CHECK(Code(Group(c, "get_group_msg_receipt_detail", {{"GroupId", id}, {"MsgSeq", first}})) ==
        10030);  // asked for no receipt

  // Import: old messages take seqs, are not pushed, and show in history.
  json imported = Group(c, "import_group_msg",
                        {{"GroupId", id},
                         {"MsgList", {{{"From_Account", "owner"}, {"SendTime", 1600000000},
                                       {"Random", 1}, {"MsgBody", Text("old")}},
                                      {{"From_Account", "owner"}, {"SendTime", 4000000000u},
                                       {"MsgBody", Text("future")}},
                                      {{"From_Account", "nobody"}, {"SendTime", 1600000001},
                                       {"MsgBody", Text("ghost")}}}}});
  REQUIRE(Code(imported) == 0);
  CHECK(imported["ImportMsgResult"][0]["Result"] == 0);
  CHECK(imported["ImportMsgResult"][1]["Result"] == 10004);
  CHECK(imported["ImportMsgResult"][2]["Result"] == 10019);  // not an account of the app
  CHECK_FALSE(ann.NextGroupEvent(300).has_value());

  // clear_group_msg: history up to a seq becomes placeholders.
  REQUIRE(Code(Group(c, "clear_group_msg", {{"GroupId", id}, {"MsgSeq", first}})) == 0);
  json cleared = Group(c, "group_msg_get_simple",
                       {{"GroupId", id}, {"ReqMsgNumber", 1}, {"ReqMsgSeq", first}});
  CHECK(cleared["RspMsgList"][0]["IsPlaceMsg"] == 1);
  CHECK(UserCode(UserCall(ann, "clear_group_msg", {{"GroupId", id}})) == 10007);
}

TEST_CASE("a gateway with no member of a group left leaves its gateway set, and comes back when "
          "one logs in or joins, missing nothing",
          "[group][groupmsg][ws]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "cat"});
  std::string id = Group(c, "create_group", {{"Owner_Account", "owner"},
                                              {"Type", "Public"},
                                              {"Name", "Comings and goings"},
                                              {"MemberList", {{{"Member_Account", "ann"}}}}})["GroupId"];
  auto options = parley::redis::Pool::ParseAddress(RequireEnv("PARLEY_TEST_REDIS_ADDR"));
  auto redis = parley::redis::Pool::Create(*options);
  REQUIRE(redis.ok());
  std::string gateway = c.setting("PARLEY_GATEWAY_ID");
  auto in_set = [&] {
    auto reply = (*redis)->Command(
        {"SISMEMBER", parley::presence::GroupGatewaysKey(c.sdkappid, id), gateway});
    return reply.ok() && reply->integer() == 1;
  };
  uint32_t random = 0;
  auto send = [&](const std::string& text) {
    json answer = Group(c, "send_group_msg", {{"GroupId", id}, {"From_Account", "owner"},
                                              {"Random", ++random}, {"MsgBody", Text(text)}});
    REQUIRE(Code(answer) == 0);
    return Seq(json{{"Seq", std::to_string(answer["MsgSeq"].get<uint64_t>())}});
  };
  // Sends until the gateway has left the group's set (its events keep
  // coming with nobody here to take them).
  auto until_left = [&] {
    for (int i = 0; i < 40 && in_set(); ++i) {
      send("nobody here");
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return !in_set();
  };

  auto ann = std::make_unique<WsClient>(c.http_port);
  LoginOk(*ann, c, "ann");
  CHECK(in_set());
  ann.reset();  // ann's only session ends
  REQUIRE(until_left());

  // A login brings the gateway back, and live messages reach it again.
  ann = std::make_unique<WsClient>(c.http_port);
  LoginOk(*ann, c, "ann");
  CHECK(in_set());
  uint64_t back = send("welcome back");
  json got = NextIn(*ann, id);
  CHECK(TextOf(got) == "welcome back");
  CHECK(Seq(got) == back);
  ann.reset();
  REQUIRE(until_left());

  // A join brings it back too: cat, logged in here, is added while the
  // gateway is out of the set; the join tip and what follows reach cat,
  // each once, in order.
  WsClient cat(c.http_port);
  LoginOk(cat, c, "cat");
  REQUIRE(Code(Group(c, "add_group_member",
                     {{"GroupId", id}, {"MemberList", {{{"Member_Account", "cat"}}}}})) == 0);
  std::vector<uint64_t> sent;
  for (int i = 0; i < 3; ++i) sent.push_back(send("for cat " + std::to_string(i)));
  json tip = NextIn(cat, id);
  CHECK(tip["Tip"]["Type"] == "MemberJoined");
  CHECK(Seq(tip) == sent[0] - 1);
  for (uint64_t seq : sent) {
    json message = NextIn(cat, id);
    CHECK(Seq(message) == seq);
  }
  CHECK_FALSE(cat.NextGroupEvent(500).has_value());
  CHECK(in_set());
}
