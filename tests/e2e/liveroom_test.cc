// Live rooms (AVChatRoom) end to end: entering and leaving over the client
// protocol across two gateways, online-only room messages, online counts,
// frequency control by priority, mutes and bans, send_broadcast_msg, the
// member-state callbacks and the REST commands with their error paths.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "parley/v1/group.grpc.pb.h"
#include "support/e2e_helpers.h"
#include "support/test_cluster.h"
#include "support/tls.h"
#include "support/webhook_receiver.h"

using namespace parley::testing;
using nlohmann::json;

namespace {

json Text(const std::string& text) {
  return json::array({{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", text}}}}});
}

std::string TextOf(const json& event) {
  return event["Message"]["MsgBody"][0]["MsgContent"]["Text"];
}

std::string Room(const TestCluster& c, const std::string& owner = "owner") {
  json created = Group(c, "create_group", {{"Owner_Account", owner}, {"Type", "AVChatRoom"},
                                           {"Name", "Live"}});
  REQUIRE(Code(created) == 0);
  return created["GroupId"];
}

json Join(WsClient& client, const std::string& room) {
  static int n = 0;
  return client.Call("join-" + std::to_string(++n), {{"roomJoin", {{"groupId", room}}}});
}

json Quit(WsClient& client, const std::string& room) {
  static int n = 0;
  return client.Call("quit-" + std::to_string(++n), {{"roomQuit", {{"groupId", room}}}});
}

json Say(WsClient& client, const std::string& room, const std::string& text,
         const std::string& priority = "Normal") {
  static int n = 0;
  return client.Call("say-" + std::to_string(++n),
                     {{"groupSend", {{"GroupId", room}, {"MsgBody", Text(text)},
                                     {"MsgPriority", priority}}}});
}

int FrameCode(const json& frame) {
  return frame.contains("error") ? frame["error"].value("errorCode", 0) : 0;
}

// The texts of the room messages `client` gets within `ms` (they come in
// room_events frames, several at a time); `frames` counts the frames.
std::vector<std::string> Drain(WsClient& client, const std::string& room, int ms,
                               int* frames = nullptr) {
  std::vector<std::string> texts;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto batch = client.NextPush("roomEvents", 100);
    if (!batch || (*batch)["groupId"] != room) continue;
    if (frames) ++*frames;
    for (const auto& event : (*batch)["events"]) {
      CHECK(event["GroupId"] == room);
      CHECK(event["Kind"] == "KIND_MESSAGE");
      CHECK(event["LiveRoom"] == true);
      texts.push_back(TextOf(event));
    }
  }
  return texts;
}

uint32_t Online(const TestCluster& c, const std::string& room) {
  json answer = Group(c, "get_online_member_num", {{"GroupId", room}});
  REQUIRE(Code(answer) == 0);
  return answer["OnlineMemberNum"];
}

}  // namespace

TEST_CASE("live rooms: join and quit across two gateways, online-only messages, online counts",
          "[liveroom][ws]") {
  TestCluster c(std::map<std::string, std::string>{{"PARLEY_ROOM_TICK_MS", "300"}});
  int http_b = 0;
  Process gateway_b = c.StartExtraGateway(&http_b, "gw-lr-" + std::to_string(c.sdkappid));
  ImportAccounts(c, {"owner", "ann", "ben", "cat"});
  std::string room = Room(c);
  std::string other = Room(c);
  // ann on gateway A (two devices, only the phone enters), ben on B, cat on
  // A but never in the room.
  WsClient ann(c.http_port), ann_web(c.http_port), ben(http_b), cat(c.http_port);
  LoginOk(ann, c, "ann", "Android");
  LoginOk(ann_web, c, "ann", "Web");
  LoginOk(ben, c, "ben", "iPhone");
  LoginOk(cat, c, "cat");

  // Not in the room yet: sends are refused.
  CHECK(FrameCode(Say(ann, room, "early")) == 10007);
  json joined = Join(ann, room);
  REQUIRE(joined.contains("roomJoined"));
  CHECK(joined["roomJoined"]["groupId"] == room);
  CHECK(joined["roomJoined"]["onlineMemberNum"] == 1);
  json joined_b = Join(ben, room);
  REQUIRE(joined_b.contains("roomJoined"));
  CHECK(joined_b["roomJoined"]["onlineMemberNum"] == 2);
  CHECK(Online(c, room) == 2);
  // Entering again is harmless: still two.
  CHECK(Join(ben, room).contains("roomJoined"));
  CHECK(Online(c, room) == 2);

  // A member's message reaches every session in the room once, on both
  // gateways; not ann's other device, not cat.
  json said = Say(ann, room, "hello");
  REQUIRE(said.contains("groupSendAck"));
  CHECK(said["groupSendAck"].value("MsgDropReason", "") == "");
  for (WsClient* client : {&ann, &ben}) {
    auto texts = Drain(*client, room, 600);
    CHECK(texts == std::vector<std::string>{"hello"});
  }
  CHECK(Drain(ann_web, room, 200).empty());
  CHECK(Drain(cat, room, 200).empty());
  // The event is a room's: LiveRoom, seq 0, nothing stored.
  Say(ben, room, "stored?");
  CHECK(Drain(ben, room, 600) == std::vector<std::string>{"stored?"});
  auto batch = ann.NextPush("roomEvents", 2000);
  REQUIRE(batch.has_value());
  const json& event = (*batch)["events"][0];
  CHECK(event["LiveRoom"] == true);
  CHECK(event.value("Seq", std::string("0")) == "0");
  CHECK(Code(Group(c, "group_msg_get_simple", {{"GroupId", room}, {"ReqMsgNumber", 5}})) == 10044);
  ben.ClearPending();

  // The app admin's REST send needs no presence and is never dropped.
  json rest = Group(c, "send_group_msg", {{"GroupId", room}, {"Random", 1}, {"MsgBody", Text("from the app")}});
  REQUIRE(Code(rest) == 0);
  CHECK(rest["MsgSeq"] == 0);
  CHECK(Drain(ben, room, 600) == std::vector<std::string>{"from the app"});

  // Online counts are pushed when they change (at most once per tick).
  auto dan = std::make_unique<WsClient>(http_b);
  ImportAccounts(c, {"dan"});
  LoginOk(*dan, c, "dan");
  Join(*dan, room);
  bool saw_three = false;
  for (int i = 0; i < 10 && !saw_three; ++i) {
    auto count = ann.NextPush("roomCount", 1000);
    saw_three = count && (*count)["onlineMemberNum"] == 3;
  }
  CHECK(saw_three);

  // ben quits: the count drops, and room messages no longer reach him.
  json quit = Quit(ben, room);
  CHECK(quit.contains("ack"));
  CHECK(FrameCode(Quit(ben, room)) == 10007);
  CHECK(Online(c, room) == 2);
  ann.ClearPending();
  Say(ann, room, "after ben");
  CHECK(Drain(*dan, room, 600) == std::vector<std::string>{"after ben"});
  CHECK(Drain(ann, room, 300) == std::vector<std::string>{"after ben"});
  CHECK(Drain(ben, room, 300).empty());

  // One room per session: entering another leaves the first.
  json moved = Join(ann, other);
  REQUIRE(moved.contains("roomJoined"));
  CHECK(moved["roomJoined"]["leftGroupId"] == room);
  CHECK(Online(c, room) == 1);
  CHECK(Online(c, other) == 1);
  Say(*dan, room, "ann is gone");
  for (const auto& text : Drain(ann, room, 400)) CHECK(text != "ann is gone");

  // A closed connection leaves the room.
  dan.reset();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Online(c, room) != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(Online(c, room) == 0);
  // No such group, not a room.
  CHECK(FrameCode(Join(ann, "@TGS#aNOSUCHROOM")) == 10010);
  std::string pub = Group(c, "create_group", {{"Owner_Account", "owner"}, {"Type", "Public"},
                                              {"Name", "p"}})["GroupId"];
  CHECK(FrameCode(Join(ann, pub)) == 10007);
}

TEST_CASE("live rooms: over the rate, lower priorities are dropped first and each drop is told",
          "[liveroom][ws]") {
  TestCluster c;
  int http_b = 0;
  Process gateway_b = c.StartExtraGateway(&http_b, "gw-lp-" + std::to_string(c.sdkappid));
  ImportAccounts(c, {"owner", "s1", "s2", "s3", "viewer"});
  std::string room = Room(c);
  std::vector<std::unique_ptr<WsClient>> senders;
  for (const char* user : {"s1", "s2", "s3"}) {
    senders.push_back(std::make_unique<WsClient>(c.http_port));
    LoginOk(*senders.back(), c, user);
    REQUIRE(Join(*senders.back(), room).contains("roomJoined"));
  }
  WsClient viewer(http_b);
  LoginOk(viewer, c, "viewer");
  REQUIRE(Join(viewer, room).contains("roomJoined"));

  // 10 High, 20 Normal and 30 Low in one second against the default 40:
  // s1 sends 10 High and 10 Low, s2 and s3 10 Normal and 10 Low each,
  // interleaved. Start right after a second begins, so the burst is in one.
  std::map<std::string, std::string> priority_of;  // frame id -> priority
  std::map<std::string, std::string> text_of;
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  while (now_ms() % 1000 > 50) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  for (int i = 0; i < 10; ++i) {
    for (size_t s = 0; s < senders.size(); ++s) {
      for (const char* p : {s == 0 ? "High" : "Normal", "Low"}) {
        std::string id = "burst-" + std::to_string(s) + "-" + std::to_string(i) + "-" + p;
        std::string text = id;
        priority_of[id] = p;
        text_of[id] = text;
        senders[s]->Send({{"id", id},
                          {"groupSend", {{"GroupId", room}, {"MsgBody", Text(text)},
                                         {"MsgPriority", p}}}});
      }
    }
  }
  // Every send is answered: delivered ("") or dropped ("MsgFreqLimit").
  std::set<std::string> delivered, dropped;
  std::map<std::string, int> dropped_by_priority;
  for (size_t s = 0; s < senders.size(); ++s) {
    for (int i = 0; i < 20; ++i) {
      auto frame = senders[s]->Next(5000);
      REQUIRE(frame.has_value());
      if (!frame->contains("groupSendAck")) {
        --i;  // a room event; the answers come too
        continue;
      }
      std::string id = (*frame)["id"];
      std::string reason = (*frame)["groupSendAck"].value("MsgDropReason", "");
      if (reason.empty()) {
        delivered.insert(text_of[id]);
      } else {
        CHECK(reason == "MsgFreqLimit");
        dropped.insert(text_of[id]);
        ++dropped_by_priority[priority_of[id]];
      }
    }
  }
  CHECK(delivered.size() + dropped.size() == 60);
  // Every High and every Normal got through; the drops are all Low.
  CHECK(dropped_by_priority["High"] == 0);
  CHECK(dropped_by_priority["Normal"] == 0);
  CHECK(dropped_by_priority["Low"] > 0);
  CHECK(dropped_by_priority["Low"] <= 20);
  // The viewer gets exactly what was delivered, once each.
  int frames = 0;
  auto seen = Drain(viewer, room, 1500, &frames);
  // Messages of one batch window share a frame.
  CHECK(frames < static_cast<int>(seen.size()));
  std::multiset<std::string> seen_set(seen.begin(), seen.end());
  CHECK(seen.size() == delivered.size());
  CHECK(std::set<std::string>(seen.begin(), seen.end()) == delivered);
  for (const auto& t : seen_set) CHECK(seen_set.count(t) == 1);
}

TEST_CASE("live rooms: mutes, bans, kicks of the banned and rejoin refused", "[liveroom][ws]") {
  TestCluster c(std::map<std::string, std::string>{{"PARLEY_ROOM_TICK_MS", "300"}});
  ImportAccounts(c, {"owner", "ann", "ben"});
  std::string room = Room(c);
  WsClient ann(c.http_port), ben(c.http_port);
  LoginOk(ann, c, "ann");
  LoginOk(ben, c, "ben");
  Join(ann, room);
  Join(ben, room);

  // A muted member's sends are refused; others' are not.
  REQUIRE(Code(Group(c, "forbid_send_msg", {{"GroupId", room}, {"Members_Account", {"ben"}},
                                            {"MuteTime", 60}})) == 0);
  CHECK(FrameCode(Say(ben, room, "muted")) == 10017);
  json muted = Group(c, "get_group_muted_account", {{"GroupId", room}});
  REQUIRE(muted["MutedAccountList"].size() == 1);
  CHECK(muted["MutedAccountList"][0]["Member_Account"] == "ben");
  REQUIRE(Code(Group(c, "forbid_send_msg", {{"GroupId", room}, {"Members_Account", {"ben"}},
                                            {"MuteTime", 0}})) == 0);
  CHECK(Say(ben, room, "free").contains("groupSendAck"));
  // Everyone muted: members are refused, the app is not.
  REQUIRE(Code(Group(c, "modify_group_base_info", {{"GroupId", room}, {"MuteAllMember", "On"}})) == 0);
  CHECK(FrameCode(Say(ann, room, "all muted")) == 10017);
  CHECK(Code(Group(c, "send_group_msg", {{"GroupId", room}, {"Random", 5}, {"MsgBody", Text("app")}})) == 0);
  REQUIRE(Code(Group(c, "modify_group_base_info", {{"GroupId", room}, {"MuteAllMember", "Off"}})) == 0);
  ann.ClearPending();
  ben.ClearPending();

  // A ban takes ben out of the room at once; he cannot come back.
  CHECK(Code(Group(c, "ban_group_member", {{"GroupId", room}, {"Members_Account", {"ben"}},
                                           {"Duration", 0}})) == 10004);
  REQUIRE(Code(Group(c, "ban_group_member", {{"GroupId", room}, {"Members_Account", {"ben"}},
                                             {"Duration", 120}, {"Description", "spam"}})) == 0);
  auto left = ben.NextPush("roomLeft", 3000);
  REQUIRE(left.has_value());
  CHECK((*left)["groupId"] == room);
  CHECK((*left)["reason"] == "banned");
  CHECK(Online(c, room) == 1);
  CHECK(FrameCode(Join(ben, room)) == 10007);
  Say(ann, room, "without ben");
  for (const auto& text : Drain(ben, room, 400)) CHECK(text != "without ben");
  json bans = Group(c, "get_group_ban_member", {{"GroupId", room}});
  REQUIRE(bans["BannedAccountList"].size() == 1);
  CHECK(bans["BannedAccountList"][0]["Member_Account"] == "ben");
  CHECK(bans["BannedAccountList"][0]["BannedUntil"].get<int64_t>() > NowSeconds());
  // Lifted: he may enter again.
  REQUIRE(Code(Group(c, "unban_group_member", {{"GroupId", room}, {"Members_Account", {"ben"}}})) == 0);
  CHECK(Group(c, "get_group_ban_member", {{"GroupId", room}})["BannedAccountList"].empty());
  CHECK(Join(ben, room).contains("roomJoined"));
  // A room admin may ban members, not the owner; plain members may not ban.
  CHECK(Code(Group(c, "ban_group_member",
                   {{"GroupId", "@TGS#aNOSUCH"}, {"Members_Account", {"ben"}}, {"Duration", 5}})) == 10010);
  CHECK(UserCode(UserCall(ann, "ban_group_member",
                          {{"GroupId", room}, {"Members_Account", {"ben"}}, {"Duration", 5}})) == 10007);
  // Disbanding the room tells everyone in it.
  REQUIRE(Code(Group(c, "destroy_group", {{"GroupId", room}})) == 0);
  for (WsClient* client : {&ann, &ben}) {
    auto gone = client->NextPush("roomLeft", 3000);
    REQUIRE(gone.has_value());
    CHECK((*gone)["reason"] == "dismissed");
  }
}

TEST_CASE("live rooms: send_broadcast_msg reaches every room, system notifications reach all",
          "[liveroom][ws]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "ben"});
  std::string one = Room(c), two = Room(c);
  WsClient ann(c.http_port), ben(c.http_port);
  LoginOk(ann, c, "ann");
  LoginOk(ben, c, "ben");
  Join(ann, one);
  Join(ben, two);
  json sent = Group(c, "send_broadcast_msg", {{"From_Account", "owner"}, {"Random", 9},
                                              {"MsgBody", Text("to all rooms")}});
  REQUIRE(Code(sent) == 0);
  CHECK(sent["RoomCount"] == 2);
  CHECK(Drain(ann, one, 800) == std::vector<std::string>{"to all rooms"});
  CHECK(Drain(ben, two, 800) == std::vector<std::string>{"to all rooms"});
  CHECK(Code(Group(c, "send_broadcast_msg", {{"Random", 9}, {"MsgBody", json::array()}})) == 10004);
  CHECK(UserCode(UserCall(ann, "send_broadcast_msg", {{"MsgBody", Text("x")}})) == 10007);

  // System notifications go to everyone in the room, never to a subset.
  CHECK(Code(Group(c, "send_group_system_notification",
                   {{"GroupId", one}, {"Content", "hi"}, {"ToMembers_Account", {"ann"}}})) == 10004);
  REQUIRE(Code(Group(c, "send_group_system_notification", {{"GroupId", one}, {"Content", "notice"}})) == 0);
  auto tip = ann.NextGroupEvent(2000);
  REQUIRE(tip.has_value());
  CHECK((*tip)["Kind"] == "KIND_TIP");
  CHECK((*tip)["Tip"]["Type"] == "SystemNotification");
  CHECK((*tip)["Tip"]["Detail"] == "notice");
  CHECK_FALSE(ben.NextGroupEvent(300).has_value());
  CHECK(Drain(ben, one, 300).empty());
}

TEST_CASE("live rooms: join, exit and member-state callbacks, batched", "[liveroom][callback]") {
  WebhookReceiver receiver;
  TestCluster c({{"PARLEY_CALLBACK_URL", receiver.url()}});
  ImportAccounts(c, {"owner", "ann", "ben"});
  std::string room = Room(c);
  WsClient ann(c.http_port);
  auto ben = std::make_unique<WsClient>(c.http_port);
  LoginOk(ann, c, "ann");
  LoginOk(*ben, c, "ben");
  Join(ann, room);
  Join(*ben, room);
  auto members = [&](const std::string& command, const std::string& list_field,
                     const std::string& type_field, const std::string& type) {
    std::set<std::string> seen;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (seen.size() < 2 && std::chrono::steady_clock::now() < deadline) {
      seen.clear();
      for (const auto& call : receiver.Calls(command)) {
        if (call.body.value("GroupId", "") != room) continue;
        if (!type_field.empty() && call.body.value(type_field, "") != type) continue;
        CHECK(call.body["Type"] == "AVChatRoom");
        for (const auto& m : call.body[list_field]) seen.insert(m["Member_Account"]);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return seen;
  };
  std::set<std::string> both = {"ann", "ben"};
  CHECK(members("Group.CallbackOnMemberStateChange", "MemberList", "EventType", "Online") == both);
  CHECK(members("Group.CallbackAfterNewMemberJoin", "NewMemberList", "JoinType", "Apply") == both);
  // Joined within the same second: one callback carries both.
  bool batched = false;
  for (const auto& call : receiver.Calls("Group.CallbackOnMemberStateChange")) {
    batched = batched || call.body["MemberList"].size() == 2;
  }
  CHECK(batched);
  Quit(ann, room);
  ben.reset();
  CHECK(members("Group.CallbackOnMemberStateChange", "MemberList", "EventType", "Offline") == both);
  CHECK(members("Group.CallbackAfterMemberExit", "ExitMemberList", "ExitType", "Quit") == both);
}

TEST_CASE("live rooms: REST commands and the answers other group commands give a room",
          "[liveroom][rest]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "ben", "cat"});
  std::string room = Room(c);
  std::string pub = Group(c, "create_group", {{"Owner_Account", "owner"}, {"Type", "Public"},
                                              {"Name", "p"}})["GroupId"];
  // Creation: no MemberList; no member cap.
  CHECK(Code(Group(c, "create_group", {{"Type", "AVChatRoom"}, {"Name", "x"},
                                       {"MemberList", {{{"Member_Account", "ann"}}}}})) == 10004);
  // Commands a room does not take.
  CHECK(Code(Group(c, "add_group_member", {{"GroupId", room}, {"MemberList", {{{"Member_Account", "ann"}}}}})) == 10007);
  CHECK(Code(Group(c, "delete_group_member", {{"GroupId", room}, {"MemberToDel_Account", {"ann"}}})) == 10004);
  CHECK(Code(Group(c, "get_group_member_info", {{"GroupId", room}})) == 10007);
  CHECK(Code(Group(c, "group_msg_recall", {{"GroupId", room}, {"MsgSeqList", {{{"MsgSeq", 1}}}}})) == 10033);
  CHECK(Code(Group(c, "delete_group_msg_by_sender", {{"GroupId", room}, {"Sender_Account", "ann"}})) == 10035);
  CHECK(Code(Group(c, "get_online_member_num", {{"GroupId", pub}})) == 10007);
  CHECK(Code(Group(c, "get_online_member_num", {{"GroupId", "@TGS#aNONE"}})) == 10010);

  // Admins: at most five, real accounts only, listed.
  auto room_call = [&](const std::string& command, const json& body) {
    return c.Rest("group_open_avchatroom_http_svc/" + command, body.dump());
  };
  CHECK(Code(room_call("modify_admin", {{"GroupId", room}, {"CommandType", 3}, {"Admin_Account", {"ann"}}})) == 10004);
  CHECK(Code(room_call("modify_admin", {{"GroupId", room}, {"CommandType", 1}, {"Admin_Account", {"nobody"}}})) == 10019);
  CHECK(Code(room_call("modify_admin", {{"GroupId", room}, {"CommandType", 1},
                                        {"Admin_Account", {"a1", "a2", "a3", "a4", "a5", "a6"}}})) == 10005);
  REQUIRE(Code(room_call("modify_admin", {{"GroupId", room}, {"CommandType", 1}, {"Admin_Account", {"ann", "ben"}}})) == 0);
  json admins = room_call("get_admin_list", {{"GroupId", room}});
  REQUIRE(admins["Admin_List"].size() == 2);
  REQUIRE(Code(room_call("modify_admin", {{"GroupId", room}, {"CommandType", 2}, {"Admin_Account", {"ben"}}})) == 0);
  admins = room_call("get_admin_list", {{"GroupId", room}});
  REQUIRE(admins["Admin_List"].size() == 1);
  CHECK(admins["Admin_List"][0]["Admin_Account"] == "ann");
  CHECK(Code(room_call("get_admin_list", {{"GroupId", pub}})) == 10007);

  // Members, marks and presence checks.
  WsClient ben_ws(c.http_port), cat_ws(c.http_port);
  LoginOk(ben_ws, c, "ben");
  LoginOk(cat_ws, c, "cat");
  Join(ben_ws, room);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Join(cat_ws, room);
  CHECK(Code(room_call("modify_user_info", {{"GroupId", room}, {"CommandType", 9},
                                            {"MemberList", {{{"Member_Account", "cat"}, {"Marks", {1000}}}}}})) == 10004);
  REQUIRE(Code(room_call("modify_user_info", {{"GroupId", room}, {"CommandType", 1},
                                              {"MemberList", {{{"Member_Account", "cat"}, {"Marks", {1000, 1001}}}}}})) == 0);
  json listed = room_call("get_members", {{"GroupId", room}});
  REQUIRE(Code(listed) == 0);
  REQUIRE(listed["MemberList"].size() == 2);
  CHECK(listed["MemberList"][0]["Member_Account"] == "ben");  // join order
  CHECK(listed["MemberList"][1]["Member_Account"] == "cat");
  CHECK(listed["MemberList"][1]["Marks"] == json::array({1000, 1001}));
  CHECK(listed.value("NextTimestamp", json(0)) == 0);
  CHECK(listed["MemberList"][0]["JoinTime"].is_number());
  json marked = room_call("get_members", {{"GroupId", room}, {"Mark", 1001}});
  REQUIRE(marked["MemberList"].size() == 1);
  CHECK(marked["MemberList"][0]["Member_Account"] == "cat");
  // After ben's join time: only cat.
  json later = room_call("get_members", {{"GroupId", room}, {"Timestamp", listed["MemberList"][0]["JoinTime"]}});
  REQUIRE(later["MemberList"].size() == 1);
  REQUIRE(Code(room_call("modify_user_info", {{"GroupId", room}, {"CommandType", 2},
                                              {"MemberList", {{{"Member_Account", "cat"}, {"Marks", {1000}}}}}})) == 0);
  marked = room_call("get_members", {{"GroupId", room}, {"Mark", 1000}});
  CHECK(marked["MemberList"].empty());
  json present = room_call("check_members", {{"GroupId", room}, {"Member_Account", {"ann", "ben", "cat"}}});
  REQUIRE(Code(present) == 0);
  CHECK(present["Member_Account"] == json::array({"ben", "cat"}));
  CHECK(Code(room_call("check_members", {{"GroupId", room}, {"Member_Account", json::array()}})) == 10004);
  // get_group_info's MemberNum is the online count.
  json info = Group(c, "get_group_info", {{"GroupIdList", {room}}});
  CHECK(info["GroupInfo"][0]["MemberNum"] == 2);
  CHECK(info["GroupInfo"][0]["Type"] == "AVChatRoom");
  // A user in the room may ask for its count; one who is not may not.
  json asked = UserCall(ben_ws, "get_online_member_num", {{"GroupId", room}});
  CHECK(UserCode(asked) == 0);
  WsClient ann_ws(c.http_port);
  LoginOk(ann_ws, c, "ann");
  CHECK(UserCode(UserCall(ann_ws, "get_online_member_num", {{"GroupId", room}})) == 10007);
}

TEST_CASE("live rooms: a joining member gets the room's last messages when the app keeps them",
          "[liveroom][ws]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "ben"});
  auto settings =
      parley::v1::GroupService::NewStub(TlsChannel(c.setting("PARLEY_GROUP_TARGET"), "group"));
  parley::v1::GroupSettings update, answer;
  update.set_sdkappid(c.sdkappid);
  update.set_room_recent_count(21);
  {
    grpc::ClientContext context;
    CHECK_FALSE(settings->UpdateGroupSettings(&context, update, &answer).ok());
  }
  update.set_room_recent_count(3);
  {
    grpc::ClientContext context;
    REQUIRE(settings->UpdateGroupSettings(&context, update, &answer).ok());
    CHECK(answer.room_recent_count() == 3);
  }
  std::string room = Room(c);
  WsClient ann(c.http_port), ben(c.http_port);
  LoginOk(ann, c, "ann");
  LoginOk(ben, c, "ben");
  Join(ann, room);
  for (const char* text : {"one", "two", "three", "four"}) Say(ann, room, text);
  json joined = Join(ben, room);
  REQUIRE(joined.contains("roomJoined"));
  auto recent = joined["roomJoined"]["recent"];
  REQUIRE(recent.size() == 3);
  CHECK(recent[0]["MsgBody"][0]["MsgContent"]["Text"] == "two");
  CHECK(recent[2]["MsgBody"][0]["MsgContent"]["Text"] == "four");
}
