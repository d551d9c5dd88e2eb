// Community topics end to end: million_group_open_http_svc/*_topic and
// import_topic over REST and the client protocol, messages in each topic's
// own seq across two gateways, unread counts and read positions per topic,
// topic mutes and MuteAllMember, TopicId on the group message commands, and
// the topic callbacks.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include "support/e2e_helpers.h"
#include "support/test_cluster.h"
#include "support/webhook_receiver.h"

using namespace parley::testing;
using nlohmann::json;

namespace {

json Topic(const TestCluster& c, const std::string& command, const json& body) {
  return c.Rest("million_group_open_http_svc/" + command, body.dump());
}

json Text(const std::string& text) {
  return json::array({{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", text}}}}});
}

uint64_t Seq(const json& event) { return std::stoull(event.value("Seq", std::string("0"))); }

// A Community with topics, owned by "owner", ann an admin, ben a member.
std::string Community(const TestCluster& c) {
  json answer = Group(c, "create_group",
                      {{"Owner_Account", "owner"},
                       {"Type", "Community"},
                       {"Name", "Guild"},
                       {"SupportTopic", true},
                       {"MemberList", {{{"Member_Account", "ann"}, {"Role", "Admin"}},
                                       {{"Member_Account", "ben"}}}}});
  REQUIRE(Code(answer) == 0);
  return answer["GroupId"];
}

std::string NewTopic(const TestCluster& c, const std::string& group, const std::string& name) {
  json answer = Topic(c, "create_topic", {{"GroupId", group}, {"TopicName", name}});
  INFO(answer.dump());
  REQUIRE(Code(answer) == 0);
  return answer["TopicId"];
}

// The next group event for `group`, skipping others.
json NextIn(WsClient& client, const std::string& group) {
  for (;;) {
    auto event = client.NextGroupEvent(5000);
    REQUIRE(event.has_value());
    if ((*event)["GroupId"] == group) return *event;
  }
}

// topic -> unread count, from one groupStates call.
std::map<std::string, uint32_t> Unread(WsClient& client, const std::string& group) {
  json states = client.Call("st", {{"groupStates", {{"topicsOf", group}}}});
  REQUIRE(states.contains("groupStates"));
  std::map<std::string, uint32_t> out;
  for (const auto& s : states["groupStates"].value("groups", json::array())) {
    CHECK(s["groupId"] == group);
    out[s["topicId"]] = s.value("unread", 0u);
  }
  return out;
}

}  // namespace

TEST_CASE("topics: create, get, modify, destroy and import, with their error codes", "[topic]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "ben"});
  std::string id = Community(c);

  // IDs: made by the server under the community's, or the caller's suffix.
  std::string made = NewTopic(c, id, "general");
  CHECK(made.rfind(id + "@TOPIC#_@TOPIC#", 0) == 0);
  std::string custom = id + "@TOPIC#_news";
  json created = Topic(c, "create_topic", {{"GroupId", id}, {"TopicId", custom},
                                           {"TopicName", "news"}, {"CustomString", "c1"},
                                           {"Introduction", "what happened"}});
  CHECK(Code(created) == 0);
  CHECK(created["TopicId"] == custom);
  CHECK(Code(Topic(c, "create_topic", {{"GroupId", id}, {"TopicId", custom}, {"TopicName", "x"}})) ==
        10021);
  for (const std::string& bad : {std::string("other@TOPIC#_x"), id + "@TOPIC#_", id + "news",
                                 id + "@TOPIC#_a b", id + "@TOPIC#_@TGS#_x",
                                 id + "@TOPIC#_" + std::string(90, 'x')}) {
    INFO(bad);
    CHECK(Code(Topic(c, "create_topic", {{"GroupId", id}, {"TopicId", bad}, {"TopicName", "x"}})) ==
          110013);
  }
  CHECK(Code(Topic(c, "create_topic", {{"GroupId", id}})) == 10004);  // no name
  CHECK(Code(Topic(c, "create_topic", {{"GroupId", id}, {"TopicName", std::string(151, 'n')}})) ==
        10004);
  CHECK(Code(Topic(c, "create_topic", {{"GroupId", "@TGS#_none"}, {"TopicName", "x"}})) == 10010);
  // Only topic-enabled communities have topics.
  std::string plain = Group(c, "create_group", {{"Owner_Account", "owner"}, {"Type", "Community"},
                                                {"Name", "Plain"}})["GroupId"];
  CHECK(Code(Topic(c, "create_topic", {{"GroupId", plain}, {"TopicName", "x"}})) == 10007);
  CHECK(Code(Group(c, "create_group", {{"Type", "Public"}, {"Name", "x"}, {"SupportTopic", true}})) ==
        10004);
  CHECK(Code(Group(c, "create_group",
                   {{"Type", "Community"}, {"GroupId", "@TGS#_a@TOPIC#_b"}, {"Name", "x"}})) == 10015);

  // Members list topics; the owner and admins manage them, members may not.
  WsClient ann(c.http_port), ben(c.http_port);
  LoginOk(ann, c, "ann");
  LoginOk(ben, c, "ben");
  const std::string svc = "million_group_open_http_svc";
  CHECK(UserCode(UserCall(ben, "create_topic", {{"GroupId", id}, {"TopicName", "mine"}}, svc)) ==
        10007);
  json by_admin = UserCall(ann, "create_topic", {{"GroupId", id}, {"TopicName", "admins"}}, svc);
  REQUIRE(UserCode(by_admin) == 0);
  std::string admins = by_admin["TopicId"];

  json all = UserCall(ben, "get_topic", {{"GroupId", id}}, svc);
  REQUIRE(UserCode(all) == 0);
  REQUIRE(all["TopicAndSelfInfo"].size() == 3);  // in creation order
  CHECK(all["TopicAndSelfInfo"][0]["TopicInfo"]["TopicId"] == made);
  CHECK(all["TopicAndSelfInfo"][1]["TopicInfo"]["TopicName"] == "news");
  CHECK(all["TopicAndSelfInfo"][1]["TopicInfo"]["CustomString"] == "c1");
  CHECK(all["TopicAndSelfInfo"][1]["TopicInfo"]["GroupID"] == id);
  CHECK(all["TopicAndSelfInfo"][1]["SelfInfo"]["Role"] == "Member");
  CHECK(all["TopicAndSelfInfo"][2]["TopicInfo"]["TopicId"] == admins);
  json some = Topic(c, "get_topic", {{"GroupId", id}, {"From_Account", "ann"},
                                     {"TopicIdList", {custom, id + "@TOPIC#_gone"}},
                                     {"ResponseFilter", {"TopicName"}}});
  REQUIRE(Code(some) == 0);
  REQUIRE(some["TopicAndSelfInfo"].size() == 2);
  CHECK(some["TopicAndSelfInfo"][0]["TopicInfo"]["TopicName"] == "news");
  CHECK_FALSE(some["TopicAndSelfInfo"][0]["TopicInfo"].contains("Introduction"));
  CHECK(some["TopicAndSelfInfo"][0]["SelfInfo"]["Role"] == "Admin");
  CHECK(some["TopicAndSelfInfo"][1]["ErrorCode"] == 110013);
  CHECK(Code(Topic(c, "get_topic", {{"GroupId", plain}})) == 10007);

  // modify_topic: fields and MuteAllMember.
  CHECK(Code(Topic(c, "modify_topic", {{"GroupId", id}, {"TopicId", custom},
                                       {"TopicName", "headlines"}, {"MuteAllMember", "On"}})) == 0);
  CHECK(Code(Topic(c, "modify_topic", {{"GroupId", id}, {"TopicId", custom},
                                       {"MuteAllMember", "Yes"}})) == 10004);
  CHECK(Code(Topic(c, "modify_topic", {{"GroupId", id}, {"TopicId", id + "@TOPIC#_gone"},
                                       {"TopicName", "x"}})) == 110013);
  CHECK(UserCode(UserCall(ben, "modify_topic", {{"GroupId", id}, {"TopicId", custom},
                                                {"TopicName", "x"}}, svc)) == 10007);
  json changed = Topic(c, "get_topic", {{"GroupId", id}, {"TopicIdList", {custom}}});
  CHECK(changed["TopicAndSelfInfo"][0]["TopicInfo"]["TopicName"] == "headlines");
  CHECK(changed["TopicAndSelfInfo"][0]["TopicInfo"]["ShutUpAllFlag"] == 1);

  // destroy_topic: one result per ID.
  json destroyed = Topic(c, "destroy_topic", {{"GroupId", id},
                                              {"TopicIdList", {admins, id + "@TOPIC#_gone"}}});
  REQUIRE(Code(destroyed) == 0);
  REQUIRE(destroyed["DestroyResultItem"].size() == 2);
  CHECK(destroyed["DestroyResultItem"][0]["ErrorCode"] == 0);
  CHECK(destroyed["DestroyResultItem"][1]["ErrorCode"] == 110013);
  CHECK(Code(Topic(c, "destroy_topic", {{"GroupId", id}, {"TopicIdList", json::array()}})) == 10004);
  CHECK(Topic(c, "get_topic", {{"GroupId", id}})["TopicAndSelfInfo"].size() == 2);

  // import_topic keeps CreateTime; app admins only.
  json imported = c.Rest("group_open_http_svc/import_topic",
                         json{{"GroupId", id}, {"TopicId", id + "@TOPIC#_old"},
                              {"TopicName", "archive"}, {"CreateTime", 1600000000}}
                             .dump());
  REQUIRE(Code(imported) == 0);
  json old = Topic(c, "get_topic", {{"GroupId", id}, {"TopicIdList", {id + "@TOPIC#_old"}}});
  CHECK(old["TopicAndSelfInfo"][0]["TopicInfo"]["CreateTime"] == 1600000000);
  CHECK(UserCode(UserCall(ann, "import_topic", {{"GroupId", id}, {"TopicName", "x"}})) == 10007);
}

TEST_CASE("topic messages: own seqs across gateways, unread counts, sync by seq, mutes",
          "[topic][groupmsg][ws]") {
  TestCluster c;
  int http_b = 0;
  Process gateway_b = c.StartExtraGateway(&http_b, "gw-tb-" + std::to_string(c.sdkappid));
  ImportAccounts(c, {"owner", "ann", "ben", "cat"});
  std::string id = Community(c);
  std::string chat = NewTopic(c, id, "chat");
  std::string news = NewTopic(c, id, "news");
  WsClient ann(c.http_port), ben(http_b);
  LoginOk(ann, c, "ann");
  LoginOk(ben, c, "ben");

  // Each topic counts from 1; the community's own seq holds only tips.
  auto send = [&](const std::string& topic, const std::string& from, const std::string& text) {
    return Group(c, "send_group_msg", {{"GroupId", id}, {"TopicId", topic}, {"From_Account", from},
                                       {"Random", std::hash<std::string>()(text) & 0xffffff},
                                       {"MsgBody", Text(text)}});
  };
  json first = send(chat, "ann", "c1");
  REQUIRE(Code(first) == 0);
  CHECK(first["MsgSeq"] == 1);
  CHECK(send(news, "ann", "n1")["MsgSeq"] == 1);
  CHECK(send(chat, "owner", "c2")["MsgSeq"] == 2);
  CHECK(Code(Group(c, "send_group_msg", {{"GroupId", id}, {"Random", 5}, {"MsgBody", Text("x")}})) ==
        10004);
  CHECK(Code(send("@TGS#_other@TOPIC#_x", "ann", "x")) == 110013);
  CHECK(Code(send(id + "@TOPIC#_gone", "ann", "x")) == 110013);
  CHECK(Code(send(chat, "cat", "x")) == 10007);  // not a member

  // ben, on the other gateway, gets each topic's messages in its order.
  std::map<std::string, std::vector<uint64_t>> seen;
  for (int i = 0; i < 3; ++i) {
    json event = NextIn(ben, id);
    CHECK(event["Kind"] == "KIND_MESSAGE");
    CHECK(event["Message"]["TopicId"] == event["TopicId"]);
    seen[event["TopicId"]].push_back(Seq(event));
  }
  CHECK(seen[chat] == std::vector<uint64_t>{1, 2});
  CHECK(seen[news] == std::vector<uint64_t>{1});

  // One call lists every topic's unread count; reads are per topic.
  CHECK(Unread(ben, id) == std::map<std::string, uint32_t>{{chat, 2}, {news, 1}});
  json listed = ben.Call("tl", {{"topics", {{"groupId", id}}}});
  REQUIRE(listed.contains("topics"));
  REQUIRE(listed["topics"]["topics"].size() == 2);
  CHECK(listed["topics"]["topics"][0]["topic"]["TopicInfo"]["TopicId"] == chat);
  CHECK(listed["topics"]["topics"][0]["topic"]["TopicInfo"]["TopicName"] == "chat");
  CHECK(listed["topics"]["topics"][0]["topic"]["SelfInfo"]["Role"] == "Member");
  CHECK(listed["topics"]["topics"][0]["unread"] == 2);
  CHECK(listed["topics"]["topics"][0]["maxSeq"] == "2");
  CHECK(listed["topics"]["topics"][1]["unread"] == 1);
  WsClient outsider(c.http_port);
  LoginOk(outsider, c, "cat");  // not a member yet
  CHECK(outsider.Call("tx", {{"topics", {{"groupId", id}}}})["error"]["errorCode"] == 10007);
  json read = ben.Call("r1", {{"groupRead", {{"GroupId", id}, {"TopicId", chat}}}});
  CHECK(read.contains("ack"));
  CHECK(Unread(ben, id) == std::map<std::string, uint32_t>{{chat, 0}, {news, 1}});
  json refused = ben.Call("r2", {{"groupRead", {{"GroupId", id}, {"TopicId", "@TGS#_x@TOPIC#_y"}}}});
  CHECK(refused["error"]["errorCode"] == 110013);

  // Sync a topic by seq, and send to it from the client.
  json range = ben.Call("g1", {{"groupRange", {{"groupId", id}, {"topicId", chat}, {"afterSeq", "0"}}}});
  REQUIRE(range.contains("groupRange"));
  REQUIRE(range["groupRange"]["events"].size() == 2);
  CHECK(range["groupRange"]["events"][1]["TopicId"] == chat);
  CHECK(range["groupRange"]["events"][1]["Message"]["MsgBody"][0]["MsgContent"]["Text"] == "c2");
  json ack = ben.Call("s1", {{"groupSend", {{"GroupId", id}, {"TopicId", news},
                                            {"MsgBody", Text("from ben")}}}});
  REQUIRE(ack.contains("groupSendAck"));
  CHECK(ack["groupSendAck"]["MsgSeq"] == 2);
  json history = Group(c, "group_msg_get_simple",
                       {{"GroupId", id}, {"TopicId", chat}, {"ReqMsgNumber", 10}});
  REQUIRE(Code(history) == 0);
  REQUIRE(history["RspMsgList"].size() == 2);
  CHECK(history["RspMsgList"][0]["MsgSeq"] == 2);

  // Mutes: in one topic only, or every member of a topic.
  REQUIRE(Code(Group(c, "forbid_send_msg", {{"GroupId", id}, {"TopicId", chat},
                                            {"Members_Account", {"ben"}}, {"MuteTime", 600}})) == 0);
  json muted = Group(c, "get_group_muted_account", {{"GroupId", id}, {"TopicId", chat}});
  REQUIRE(muted["MutedAccountList"].size() == 1);
  CHECK(muted["MutedAccountList"][0]["Member_Account"] == "ben");
  CHECK(Group(c, "get_group_muted_account", {{"GroupId", id}})["MutedAccountList"].empty());
  // get_topic's SelfInfo shows the mute in that topic only.
  json self = Topic(c, "get_topic", {{"GroupId", id}, {"From_Account", "ben"},
                                     {"TopicIdList", {chat, news}}});
  CHECK(self["TopicAndSelfInfo"][0]["SelfInfo"]["ShutUpTime"].get<uint32_t>() > 0);
  CHECK(self["TopicAndSelfInfo"][1]["SelfInfo"]["ShutUpTime"] == 0);
  CHECK(Code(Group(c, "forbid_send_msg", {{"GroupId", id}, {"TopicId", id + "@TOPIC#_gone"},
                                          {"Members_Account", {"ben"}}, {"MuteTime", 60}})) == 110013);
  auto ben_send = [&](const std::string& frame_id, const std::string& topic) {
    json answer = ben.Call(frame_id, {{"groupSend", {{"GroupId", id}, {"TopicId", topic},
                                                     {"MsgBody", Text(frame_id)}}}});
    return answer.contains("error") ? answer["error"].value("errorCode", -1) : 0;
  };
  CHECK(ben_send("m1", chat) == 10017);
  CHECK(ben_send("m2", news) == 0);
  REQUIRE(Code(Topic(c, "modify_topic", {{"GroupId", id}, {"TopicId", news},
                                         {"MuteAllMember", "On"}})) == 0);
  CHECK(ben_send("m3", news) == 10017);
  CHECK(UserCode(UserCall(ann, "get_topic", {{"GroupId", id}}, "million_group_open_http_svc")) == 0);
  json by_admin = ann.Call("m4", {{"groupSend", {{"GroupId", id}, {"TopicId", news},
                                                 {"MsgBody", Text("admins still talk")}}}});
  CHECK(by_admin.contains("groupSendAck"));
  // The change reached members as a tip of the community.
  bool tip_seen = false;
  for (int i = 0; i < 10 && !tip_seen; ++i) {
    json event = NextIn(ben, id);
    tip_seen = event["Kind"] == "KIND_TIP" && event["Tip"]["Type"] == "TopicChanged" &&
               event["Tip"]["TopicId"] == news;
  }
  CHECK(tip_seen);

  // Recall, delete by sender and notifications take TopicId too.
  json recalled = Group(c, "group_msg_recall", {{"GroupId", id}, {"TopicId", chat},
                                                {"MsgSeqList", {{{"MsgSeq", 1}}}}});
  REQUIRE(Code(recalled) == 0);
  CHECK(recalled["RecallRetList"][0]["RetCode"] == 0);
  CHECK(Code(Group(c, "delete_group_msg_by_sender",
                   {{"GroupId", id}, {"TopicId", chat}, {"Sender_Account", "owner"}})) == 0);
  CHECK(Code(Group(c, "send_group_system_notification",
                   {{"GroupId", id}, {"TopicId", news}, {"Content", "maintenance"}})) == 0);
  json history_after = Group(c, "group_msg_get_simple",
                             {{"GroupId", id}, {"TopicId", chat}, {"ReqMsgNumber", 10}});
  CHECK(history_after["RspMsgList"].empty());  // both recalled

  // A new member starts with nothing unread in the topics that exist.
  REQUIRE(Code(Group(c, "add_group_member", {{"GroupId", id},
                                             {"MemberList", {{{"Member_Account", "cat"}}}}})) == 0);
  WsClient cat(c.http_port);
  LoginOk(cat, c, "cat");
  for (const auto& [topic, unread] : Unread(cat, id)) {
    INFO(topic);
    CHECK(unread == 0);
  }
  REQUIRE(Code(send(chat, "ann", "welcome")) == 0);
  CHECK(Unread(cat, id)[chat] == 1);

  // A destroyed topic takes no more messages.
  REQUIRE(Code(Topic(c, "destroy_topic", {{"GroupId", id}, {"TopicIdList", {chat}}})) == 0);
  CHECK(Code(send(chat, "ann", "late")) == 110013);
  CHECK(Unread(cat, id).count(chat) == 0);
}

TEST_CASE("topic callbacks: before-create decides, after-events report", "[topic][callback]") {
  WebhookReceiver receiver;
  receiver.OnCommand("Group.CallbackBeforeCreateTopic", [](const WebhookReceiver::Call& call) {
    if (call.body.value("Name", "") == "forbidden") {
      return WebhookReceiver::Ok({{"ErrorCode", 1}, {"ErrorInfo", "not that name"}});
    }
    return WebhookReceiver::Ok();
  });
  TestCluster c({{"PARLEY_CALLBACK_URL", receiver.url()}});
  ImportAccounts(c, {"owner", "ann", "ben"});
  std::string id = Community(c);
  CHECK(Code(Topic(c, "create_topic", {{"GroupId", id}, {"TopicName", "forbidden"}})) == 10016);
  CHECK(Topic(c, "get_topic", {{"GroupId", id}})["TopicAndSelfInfo"].empty());
  std::string topic = NewTopic(c, id, "allowed");
  auto created = receiver.WaitFor("Group.CallbackAfterCreateTopic", 1);
  REQUIRE(created.size() == 1);
  CHECK(created[0].body["GroupId"] == id);
  CHECK(created[0].body["TopicId"] == topic);
  CHECK(created[0].body["Name"] == "allowed");
  CHECK(created[0].body["Type"] == "Community");

  REQUIRE(Code(Topic(c, "modify_topic", {{"GroupId", id}, {"TopicId", topic},
                                         {"Notification", "be nice"}})) == 0);
  auto changed = receiver.WaitFor("Group.CallbackAfterTopicInfoChanged", 1);
  REQUIRE(changed.size() == 1);
  CHECK(changed[0].body["TopicId"] == topic);
  CHECK(changed[0].body["Notification"] == "be nice");
  CHECK_FALSE(changed[0].body.contains("Name"));

  REQUIRE(Code(Topic(c, "destroy_topic", {{"GroupId", id}, {"TopicIdList", {topic}}})) == 0);
  auto destroyed = receiver.WaitFor("Group.CallbackAfterTopicDestroyed", 1);
  REQUIRE(destroyed.size() == 1);
  CHECK(destroyed[0].body["TopicIdList"] == json::array({topic}));
}

TEST_CASE("permission groups: the endpoints, and bits that decide what members may do",
          "[topic][permission][ws]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "ben", "cat", "dan"});
  // Permissions on; members have no bits of their own.
  json made = Group(c, "create_group",
                    {{"Owner_Account", "owner"}, {"Type", "Community"}, {"Name", "Guild"},
                     {"SupportTopic", true}, {"EnablePermission", 1}, {"DefaultPermission", 0},
                     {"MemberList", {{{"Member_Account", "ann"}, {"Role", "Admin"}},
                                     {{"Member_Account", "ben"}}, {{"Member_Account", "cat"}}}}});
  REQUIRE(Code(made) == 0);
  std::string id = made["GroupId"];
  json info = Group(c, "get_group_info", {{"GroupIdList", {id}}});
  CHECK(info["GroupInfo"][0]["EnablePermission"] == 1);
  CHECK(info["GroupInfo"][0]["SupportTopic"] == 1);
  std::string news = NewTopic(c, id, "news");
  json chat_made = Topic(c, "create_topic", {{"GroupId", id}, {"TopicName", "chat"},
                                             {"DefaultPermission", 8}});  // everyone sends
  REQUIRE(Code(chat_made) == 0);
  std::string chat = chat_made["TopicId"];
  CHECK(Code(Topic(c, "create_topic", {{"GroupId", id}, {"TopicName", "x"},
                                       {"DefaultPermission", 128}})) == 10004);

  WsClient ann(c.http_port), ben(c.http_port), cat(c.http_port);
  LoginOk(ann, c, "ann");
  LoginOk(ben, c, "ben");
  LoginOk(cat, c, "cat");
  int n = 0;
  auto send = [&](WsClient& who, const std::string& topic) {
    std::string frame_id = "p" + std::to_string(++n);
    json answer = who.Call(frame_id, {{"groupSend", {{"GroupId", id}, {"TopicId", topic},
                                                     {"MsgBody", Text(frame_id)}}}});
    return answer.contains("error") ? answer["error"].value("errorCode", -1) : 0;
  };
  CHECK(send(ben, news) == 10007);
  CHECK(send(ben, chat) == 0);
  CHECK(send(ann, news) == 10007);  // an admin has only their bits too

  // create_permission_group and its errors.
  auto pg = [&](const std::string& command, const json& body) { return Group(c, command, body); };
  json writers = pg("create_permission_group", {{"GroupId", id}, {"PermissionGroupId", "@PMG#_writers"},
                                                {"PermissionGroupName", "writers"}, {"Permission", 64}});
  REQUIRE(Code(writers) == 0);
  CHECK(writers["PermissionGroupId"] == "@PMG#_writers");
  CHECK(Code(pg("create_permission_group", {{"GroupId", id}, {"PermissionGroupId", "@PMG#_writers"},
                                            {"PermissionGroupName", "again"}, {"Permission", 0}})) == 10021);
  CHECK(Code(pg("create_permission_group", {{"GroupId", id}, {"PermissionGroupId", "writers"},
                                            {"PermissionGroupName", "x"}})) == 10004);
  CHECK(Code(pg("create_permission_group", {{"GroupId", id}, {"PermissionGroupName", "x"},
                                            {"Permission", 4096}})) == 10004);
  CHECK(Code(pg("create_permission_group", {{"GroupId", id}, {"PermissionGroupName", ""}})) == 10004);
  std::string pub = Group(c, "create_group", {{"Owner_Account", "owner"}, {"Type", "Public"},
                                              {"Name", "p"}})["GroupId"];
  CHECK(Code(pg("create_permission_group", {{"GroupId", pub}, {"PermissionGroupName", "x"}})) == 10007);
  json made_id = pg("create_permission_group", {{"GroupId", id}, {"PermissionGroupName", "mods"}});
  REQUIRE(Code(made_id) == 0);
  std::string mods = made_id["PermissionGroupId"];
  CHECK(mods.rfind("@PMG#_@PMG#", 0) == 0);

  // Members: only the community's; a second add is 2.
  json added = pg("add_permission_group_member",
                  {{"GroupId", id}, {"PermissionGroupId", "@PMG#_writers"},
                   {"MemberList", {{{"Member_Account", "ben"}}, {{"Member_Account", "dan"}}}}});
  REQUIRE(Code(added) == 0);
  CHECK(added["MemberList"][0]["Result"] == 1);
  CHECK(added["MemberList"][1]["Result"] == 0);
  CHECK(pg("add_permission_group_member", {{"GroupId", id}, {"PermissionGroupId", "@PMG#_writers"},
                                           {"MemberList", {{{"Member_Account", "ben"}}}}})
            ["MemberList"][0]["Result"] == 2);
  CHECK(Code(pg("add_permission_group_member", {{"GroupId", id}, {"PermissionGroupId", "@PMG#_none"},
                                                {"MemberList", {{{"Member_Account", "ben"}}}}})) == 10004);
  // The community's send bit reaches every topic.
  CHECK(send(ben, news) == 0);
  CHECK(send(cat, news) == 10007);

  json listed = pg("get_permission_group", {{"GroupId", id}});
  REQUIRE(Code(listed) == 0);
  REQUIRE(listed["PermissionGroupList"].size() == 2);
  CHECK(listed["PermissionGroupList"][0]["PermissionGroupId"] == "@PMG#_writers");
  CHECK(listed["PermissionGroupList"][0]["Permission"] == 64);
  CHECK(listed["PermissionGroupList"][0]["MemberNum"] == 1);
  json page = pg("get_permission_group", {{"GroupId", id}, {"Limit", 1}});
  REQUIRE(page["PermissionGroupList"].size() == 1);
  json rest = pg("get_permission_group", {{"GroupId", id}, {"Limit", 1}, {"Next", page["Next"]}});
  REQUIRE(rest["PermissionGroupList"].size() == 1);
  CHECK(rest["PermissionGroupList"][0]["PermissionGroupId"] == mods);
  json some = pg("get_permission_group", {{"GroupId", id},
                                          {"PermissionGroupIdList", {"@PMG#_none", "@PMG#_writers"}}});
  CHECK(some["PermissionGroupList"][0]["ErrorCode"] == 10004);
  CHECK(some["PermissionGroupList"][1]["PermissionGroupName"] == "writers");
  json members = pg("get_permission_group_member_list",
                    {{"GroupId", id}, {"PermissionGroupId", "@PMG#_writers"}});
  REQUIRE(Code(members) == 0);
  CHECK(members["MemberList"] == json::array({{{"Member_Account", "ben"}}}));
  CHECK(Code(pg("get_permission_group_member_list", {{"GroupId", id},
                                                     {"PermissionGroupId", "@PMG#_writers"},
                                                     {"Limit", 51}})) == 10004);

  // Changing a group's bits takes effect on the next send.
  REQUIRE(Code(pg("modify_permission_group", {{"GroupId", id}, {"PermissionGroupId", "@PMG#_writers"},
                                              {"Permission", 0}})) == 0);
  CHECK(send(ben, news) == 10007);
  CHECK(Code(pg("modify_permission_group", {{"GroupId", id}, {"PermissionGroupId", "@PMG#_none"},
                                            {"Permission", 0}})) == 10004);

  // Topic permissions: mods may send (and mute) in news only.
  json topic_add = pg("add_topic_permission_group",
                      {{"GroupId", id}, {"PermissionGroupId", mods},
                       {"TopicPermissionList", {{{"TopicId", news}, {"Permission", 12}},
                                                {{"TopicId", id + "@TOPIC#_gone"}, {"Permission", 8}},
                                                {{"TopicId", chat}, {"Permission", 4096}}}}});
  REQUIRE(Code(topic_add) == 0);
  CHECK(topic_add["ResultItem"][0]["ErrorCode"] == 0);
  CHECK(topic_add["ResultItem"][1]["ErrorCode"] == 110013);
  CHECK(topic_add["ResultItem"][2]["ErrorCode"] == 10004);
  CHECK(pg("add_topic_permission_group", {{"GroupId", id}, {"PermissionGroupId", mods},
                                          {"TopicPermissionList", {{{"TopicId", news}, {"Permission", 8}}}}})
            ["ResultItem"][0]["ErrorCode"] == 10004);  // already there: set it instead
  REQUIRE(Code(pg("add_permission_group_member", {{"GroupId", id}, {"PermissionGroupId", mods},
                                                  {"MemberList", {{{"Member_Account", "cat"}}}}})) == 0);
  CHECK(send(cat, news) == 0);
  // cat may mute in news (topic bit 4), not in the community.
  CHECK(UserCode(UserCall(cat, "forbid_send_msg", {{"GroupId", id}, {"TopicId", news},
                                                   {"Members_Account", {"ben"}}, {"MuteTime", 60}})) == 0);
  CHECK(UserCode(UserCall(cat, "forbid_send_msg", {{"GroupId", id}, {"Members_Account", {"ben"}},
                                                   {"MuteTime", 60}})) == 10007);
  REQUIRE(Code(pg("set_topic_permission_group", {{"GroupId", id}, {"PermissionGroupId", mods},
                                                 {"TopicPermissionList", {{{"TopicId", news}, {"Permission", 8}}}}})) == 0);
  CHECK(pg("set_topic_permission_group", {{"GroupId", id}, {"PermissionGroupId", mods},
                                          {"TopicPermissionList", {{{"TopicId", chat}, {"Permission", 8}}}}})
            ["ResultItem"][0]["ErrorCode"] == 10004);  // nothing to set
  json got = pg("get_topic_permission_group", {{"GroupId", id}, {"PermissionGroupId", mods}});
  REQUIRE(Code(got) == 0);
  CHECK(got["TopicPermissionList"] == json::array({{{"TopicId", news}, {"Permission", 8},
                                                    {"ErrorCode", 0}, {"ErrorInfo", ""}}}));
  CHECK(UserCode(UserCall(cat, "forbid_send_msg", {{"GroupId", id}, {"TopicId", news},
                                                   {"Members_Account", {"ben"}}, {"MuteTime", 0}})) == 10007);
  json deleted = pg("delete_topic_permission_group", {{"GroupId", id}, {"PermissionGroupId", mods},
                                                      {"TopicIdList", {news, chat}}});
  REQUIRE(Code(deleted) == 0);
  CHECK(deleted["ResultItem"][0]["ErrorCode"] == 0);
  CHECK(deleted["ResultItem"][1]["ErrorCode"] == 110013);
  CHECK(send(cat, news) == 10007);

  // Managing topics: admins by bits only; the owner always.
  const std::string svc = "million_group_open_http_svc";
  CHECK(UserCode(UserCall(ann, "create_topic", {{"GroupId", id}, {"TopicName", "a"}}, svc)) == 10007);
  REQUIRE(Code(pg("add_permission_group_member", {{"GroupId", id}, {"PermissionGroupId", mods},
                                                  {"MemberList", {{{"Member_Account", "ann"}}}}})) == 0);
  REQUIRE(Code(pg("modify_permission_group", {{"GroupId", id}, {"PermissionGroupId", mods},
                                              {"Permission", 16}})) == 0);
  CHECK(UserCode(UserCall(ann, "create_topic", {{"GroupId", id}, {"TopicName", "a"}}, svc)) == 0);
  // Members: kicking takes bit 2.
  CHECK(UserCode(UserCall(ann, "delete_group_member", {{"GroupId", id},
                                                       {"MemberToDel_Account", {"ben"}}})) == 10007);

  // Who leaves the community leaves its permission groups.
  REQUIRE(Code(Group(c, "delete_group_member", {{"GroupId", id}, {"MemberToDel_Account", {"cat"}}})) == 0);
  REQUIRE(Code(Group(c, "add_group_member", {{"GroupId", id},
                                             {"MemberList", {{{"Member_Account", "cat"}}}}})) == 0);
  CHECK(pg("get_permission_group_member_list", {{"GroupId", id}, {"PermissionGroupId", mods}})
            ["MemberList"] == json::array({{{"Member_Account", "ann"}}}));
  REQUIRE(Code(pg("delete_permission_group_member", {{"GroupId", id}, {"PermissionGroupId", mods},
                                                     {"MemberList", {{{"Member_Account", "ann"}}}}})) == 0);
  CHECK(pg("get_permission_group_member_list", {{"GroupId", id}, {"PermissionGroupId", mods}})
            .value("MemberList", json::array()).empty());

  json destroyed = pg("destroy_permission_group", {{"GroupId", id},
                                                   {"PermissionGroupIdList", {mods, "@PMG#_none"}}});
  REQUIRE(Code(destroyed) == 0);
  CHECK(destroyed["ResultItem"][0]["ErrorCode"] == 0);
  CHECK(destroyed["ResultItem"][1]["ErrorCode"] == 10004);

  // Members see the community's permission groups; they may not change them.
  CHECK(UserCode(UserCall(ben, "get_permission_group", {{"GroupId", id}})) == 0);
  CHECK(UserCode(UserCall(ben, "create_permission_group", {{"GroupId", id},
                                                           {"PermissionGroupName", "x"}})) == 10007);

  // Permissions off: roles decide again.
  REQUIRE(Code(Group(c, "modify_group_base_info", {{"GroupId", id}, {"EnablePermission", 0}})) == 0);
  CHECK(send(cat, news) == 0);
  CHECK(send(ben, news) == 10017);  // cat's topic mute stands
  CHECK(Code(Group(c, "modify_group_base_info", {{"GroupId", pub}, {"EnablePermission", 1}})) == 10007);
  CHECK(Code(Group(c, "create_group", {{"Type", "Public"}, {"Name", "x"}, {"EnablePermission", 1}})) ==
        10004);
}
