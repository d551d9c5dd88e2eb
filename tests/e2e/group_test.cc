// Groups end to end: group_open_http_svc REST against the real binaries,
// with every documented error path of the endpoints served so far.
#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <set>
#include <thread>

#include "parley/v1/group.grpc.pb.h"
#include "support/e2e_helpers.h"
#include "support/http_client.h"
#include "support/test_cluster.h"
#include "support/tls.h"
#include "support/webhook_receiver.h"

using namespace parley::testing;
using nlohmann::json;

namespace {

// Creates a group and returns its ID.
std::string Create(const TestCluster& c, json body) {
  json answer = Group(c, "create_group", body);
  INFO(answer.dump());
  REQUIRE(Code(answer) == 0);
  return answer["GroupId"];
}

std::map<std::string, std::string> Roles(const TestCluster& c, const std::string& group,
                                         const std::vector<std::string>& users) {
  json answer = Group(c, "get_role_in_group", {{"GroupId", group}, {"User_Account", users}});
  REQUIRE(Code(answer) == 0);
  std::map<std::string, std::string> roles;
  for (const auto& item : answer["UserIdList"]) roles[item["Member_Account"]] = item["Role"];
  return roles;
}

}  // namespace

TEST_CASE("create_group: IDs, types, defaults, initial members and their error codes",
          "[group]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "ben"});

  std::string id = Create(c, {{"Owner_Account", "owner"},
                              {"Type", "Public"},
                              {"Name", "Readers"},
                              {"MemberList", {{{"Member_Account", "ann"}, {"Role", "Admin"}},
                                              {{"Member_Account", "ben"}}}}});
  CHECK(id.rfind("@TGS#", 0) == 0);
  json info = Group(c, "get_group_info", {{"GroupIdList", {id}}});
  REQUIRE(Code(info) == 0);
  const json& g = info["GroupInfo"][0];
  CHECK(g["ErrorCode"] == 0);
  CHECK(g["Type"] == "Public");
  CHECK(g["Name"] == "Readers");
  CHECK(g["Owner_Account"] == "owner");
  CHECK(g["MemberNum"] == 3);
  CHECK(g["MaxMemberNum"] == 6000);
  CHECK(g["ApplyJoinOption"] == "NeedPermission");
  CHECK(g["MuteAllMember"] == "Off");
  CHECK(g["MemberList"].size() == 3);
  CHECK(Roles(c, id, {"owner", "ann", "ben", "nobody"}) ==
        std::map<std::string, std::string>{
            {"owner", "Owner"}, {"ann", "Admin"}, {"ben", "Member"}, {"nobody", "NotMember"}});

  // Custom IDs, taken IDs (10021, or 10025 when the caller's owner owns it).
  CHECK(Create(c, {{"Owner_Account", "owner"}, {"Type", "ChatRoom"}, {"GroupId", "book-club"},
                   {"Name", "Books"}}) == "book-club");
  CHECK(Code(Group(c, "create_group", {{"Owner_Account", "owner"}, {"Type", "Public"},
                                       {"GroupId", "book-club"}, {"Name", "Again"}})) == 10025);
  CHECK(Code(Group(c, "create_group", {{"Owner_Account", "ann"}, {"Type", "Public"},
                                       {"GroupId", "book-club"}, {"Name", "Again"}})) == 10021);
  CHECK(Code(Group(c, "create_group", {{"Type", "Public"}, {"GroupId", "@TGS#2MINE"},
                                       {"Name", "x"}})) == 10015);
  CHECK(Code(Group(c, "create_group", {{"Type", "Community"}, {"GroupId", "guild"},
                                       {"Name", "x"}})) == 10015);
  CHECK(Create(c, {{"Type", "Community"}, {"GroupId", "@TGS#_guild"}, {"Name", "Guild"}}) ==
        "@TGS#_guild");
  std::string community = Create(c, {{"Type", "Community"}, {"Name", "Guild 2"}});
  CHECK(community.rfind("@TGS#_", 0) == 0);

  // Bad input: each with its code, and nothing created.
  CHECK(Code(Group(c, "create_group", {{"Type", "Secret"}, {"Name", "x"}})) == 10004);
  CHECK(Code(Group(c, "create_group", {{"Type", "Public"}})) == 10004);  // no Name
  CHECK(Code(Group(c, "create_group",
                   {{"Type", "Public"}, {"Name", std::string(31, 'n')}})) == 10004);
  CHECK(Code(Group(c, "create_group",
                   {{"Type", "Public"}, {"Name", "x"}, {"Owner_Account", "ghost"}})) == 10019);
  CHECK(Code(Group(c, "create_group", {{"Type", "Private"}, {"Name", "x"},
                                       {"MemberList", {{{"Member_Account", "ann"},
                                                        {"Role", "Admin"}}}}})) == 10004);
  CHECK(Code(Group(c, "create_group",
                   {{"Type", "Public"}, {"Name", "x"}, {"MaxMemberCount", 6001}})) == 10004);
  CHECK(Code(Group(c, "create_group",
                   {{"Type", "Public"}, {"Name", "x"}, {"ApplyJoinOption", "Maybe"}})) == 10004);
  json many = json::array();
  for (int i = 0; i < 101; ++i) many.push_back({{"Member_Account", "ann"}});
  CHECK(Code(Group(c, "create_group", {{"Type", "Public"}, {"Name", "x"}, {"MemberList", many}})) ==
        10005);
  CHECK(Code(Group(c, "create_group", {{"Type", "Public"}, {"Name", "x"},
                                       {"MaxMemberCount", 2},
                                       {"Owner_Account", "owner"},
                                       {"MemberList", {{{"Member_Account", "ann"}},
                                                       {{"Member_Account", "ben"}}}}})) == 10014);
  CHECK(Code(Group(c, "create_group", {{"Type", 7}, {"Name", "x"}})) == 10004);  // wrong JSON type
  json list = Group(c, "get_appid_group_list", json::object());
  CHECK(list["TotalCount"] == 4);

  // Malformed JSON, and a caller who is not an app admin.
  CHECK(Code(c.Rest("group_open_http_svc/create_group", "{\"Type\":")) == 10011);
  ImportAccounts(c, {"mallory"});
  auto http = HttpPost(c.http_port,
                       c.Target("group_open_http_svc/get_group_info", "mallory", c.Sig("mallory")),
                       json{{"GroupIdList", {id}}}.dump());
  CHECK(Code(json::parse(http.body)) == 10007);
}

TEST_CASE("members: add, remove, roles, caps, paging and owner hand-over", "[group]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "ben", "cat", "dan"});
  std::string id = Create(c, {{"Owner_Account", "owner"}, {"Type", "Public"}, {"Name", "Team"},
                              {"MaxMemberCount", 4}});

  json added = Group(c, "add_group_member",
                     {{"GroupId", id},
                      {"MemberList", {{{"Member_Account", "ann"}}, {{"Member_Account", "ghost"}},
                                      {{"Member_Account", "owner"}}}}});
  REQUIRE(Code(added) == 0);
  std::map<std::string, int> results;
  for (const auto& r : added["MemberList"]) results[r["Member_Account"]] = r["Result"];
  CHECK(results == std::map<std::string, int>{{"ann", 1}, {"ghost", 0}, {"owner", 2}});
  // The cap: 2 members, room for 2 more; 3 new ones are refused as a whole.
  CHECK(Code(Group(c, "add_group_member",
                   {{"GroupId", id},
                    {"MemberList", {{{"Member_Account", "ben"}}, {{"Member_Account", "cat"}},
                                    {{"Member_Account", "dan"}}}}})) == 10014);
  CHECK(Roles(c, id, {"ben"})["ben"] == "NotMember");
  CHECK(Code(Group(c, "add_group_member", {{"GroupId", id},
                                           {"MemberList", {{{"Member_Account", "ben"}},
                                                           {{"Member_Account", "cat"}}}}})) == 0);
  CHECK(Code(Group(c, "add_group_member", {{"GroupId", "no-such-group"},
                                           {"MemberList", {{{"Member_Account", "ben"}}}}})) ==
        10010);
  CHECK(Code(Group(c, "add_group_member", {{"GroupId", id}, {"MemberList", json::array()}})) ==
        10004);

  // Paging in join order, filters on roles and fields.
  json page = Group(c, "get_group_member_info", {{"GroupId", id}, {"Limit", 2}, {"Offset", 1}});
  REQUIRE(Code(page) == 0);
  CHECK(page["MemberNum"] == 4);
  REQUIRE(page["MemberList"].size() == 2);
  CHECK(page["MemberList"][0]["Member_Account"] == "ann");
  CHECK(page["MemberList"][0]["Role"] == "Member");
  CHECK(page["MemberList"][0].contains("JoinTime"));
  json owners = Group(c, "get_group_member_info",
                      {{"GroupId", id}, {"MemberRoleFilter", {"Owner"}},
                       {"MemberInfoFilter", {"Role"}}});
  REQUIRE(owners["MemberList"].size() == 1);
  CHECK(owners["MemberList"][0]["Member_Account"] == "owner");
  CHECK(owners["MemberList"][0]["Role"] == "Owner");
  CHECK_FALSE(owners["MemberList"][0].contains("JoinTime"));
  CHECK(Code(Group(c, "get_group_member_info", {{"GroupId", id}, {"MemberRoleFilter", {"Boss"}}})) ==
        10004);
  json some = Group(c, "get_specified_group_member_info",
                    {{"GroupId", id}, {"Member_List_Account", {"cat", "nobody"}}});
  REQUIRE(Code(some) == 0);
  REQUIRE(some["MemberList"].size() == 1);
  CHECK(some["MemberList"][0]["Member_Account"] == "cat");

  // Roles: admins, then the owner cannot be removed, members can.
  CHECK(Code(Group(c, "modify_group_member_info",
                   {{"GroupId", id}, {"Member_Account", "ann"}, {"Role", "Admin"}})) == 0);
  CHECK(Roles(c, id, {"ann"})["ann"] == "Admin");
  CHECK(Code(Group(c, "modify_group_member_info",
                   {{"GroupId", id}, {"Member_Account", "ann"}, {"Role", "Owner"}})) == 10004);
  CHECK(Code(Group(c, "modify_group_member_info",
                   {{"GroupId", id}, {"Member_Account", "dan"}, {"Role", "Admin"}})) == 10007);
  CHECK(Code(Group(c, "delete_group_member",
                   {{"GroupId", id}, {"MemberToDel_Account", {"owner"}}})) == 10004);
  CHECK(Code(Group(c, "delete_group_member",
                   {{"GroupId", id}, {"MemberToDel_Account", {"cat", "nobody"}}})) == 0);
  CHECK(Roles(c, id, {"cat"})["cat"] == "NotMember");

  // Hand-over: only to a member; roles swap.
  CHECK(Code(Group(c, "change_group_owner", {{"GroupId", id}, {"NewOwner_Account", "dan"}})) ==
        10004);
  CHECK(Code(Group(c, "change_group_owner", {{"GroupId", id}, {"NewOwner_Account", "ben"}})) == 0);
  CHECK(Roles(c, id, {"owner", "ben"}) ==
        std::map<std::string, std::string>{{"owner", "Member"}, {"ben", "Owner"}});
  json info = Group(c, "get_group_info",
                    {{"GroupIdList", {id}},
                     {"ResponseFilter", {{"GroupBaseInfoFilter", {"Owner_Account", "MemberNum"}}}}});
  CHECK(info["GroupInfo"][0]["Owner_Account"] == "ben");
  CHECK(info["GroupInfo"][0]["MemberNum"] == 3);
  CHECK_FALSE(info["GroupInfo"][0].contains("Name"));
  CHECK(info["GroupInfo"][0].value("MemberList", json::array()).empty());
}

TEST_CASE("profile, mutes, joined lists, app lists and disbanding", "[group]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "ben"});
  std::string pub = Create(c, {{"Owner_Account", "owner"}, {"Type", "Public"}, {"Name", "Pub"},
                               {"MemberList", {{{"Member_Account", "ann"}}}}});
  std::string work = Create(c, {{"Owner_Account", "owner"}, {"Type", "Private"}, {"Name", "Work"},
                                {"MemberList", {{{"Member_Account", "ann"}}}}});

  // Profile changes bump InfoSeq; bad values change nothing.
  json before = Group(c, "get_group_info", {{"GroupIdList", {pub}}})["GroupInfo"][0];
  CHECK(Code(Group(c, "modify_group_base_info",
                   {{"GroupId", pub}, {"Name", "Pub 2"}, {"Notification", "hello"},
                    {"MuteAllMember", "On"}})) == 0);
  CHECK(Code(Group(c, "modify_group_base_info",
                   {{"GroupId", pub}, {"Name", "Pub 3"}, {"Introduction", std::string(241, 'i')}})) ==
        10004);
  CHECK(Code(Group(c, "modify_group_base_info", {{"GroupId", pub}, {"MaxMemberNum", 1}})) == 10004);
  CHECK(Code(Group(c, "modify_group_base_info", {{"GroupId", pub}, {"MuteAllMember", "Maybe"}})) ==
        10004);
  CHECK(Code(Group(c, "modify_group_base_info", {{"GroupId", work}, {"MuteAllMember", "On"}})) ==
        10007);
  json after = Group(c, "get_group_info", {{"GroupIdList", {pub}}})["GroupInfo"][0];
  CHECK(after["Name"] == "Pub 2");
  CHECK(after["Notification"] == "hello");
  CHECK(after["MuteAllMember"] == "On");
  CHECK(after["InfoSeq"].get<int>() == before["InfoSeq"].get<int>() + 1);

  // Mutes: not in Work groups; in others they outlive leaving and rejoining.
  CHECK(Code(Group(c, "modify_group_member_info",
                   {{"GroupId", work}, {"Member_Account", "ann"}, {"MuteTime", 600}})) == 10007);
  CHECK(Code(Group(c, "modify_group_member_info",
                   {{"GroupId", pub}, {"Member_Account", "ann"}, {"MuteTime", 600},
                    {"NameCard", "Annie"}, {"MsgFlag", "AcceptNotNotify"}})) == 0);
  auto member = [&](const std::string& user) {
    json got = Group(c, "get_specified_group_member_info",
                     {{"GroupId", pub}, {"Member_List_Account", {user}}});
    REQUIRE(got["MemberList"].size() == 1);
    return got["MemberList"][0];
  };
  json ann = member("ann");
  CHECK(ann["MuteUntil"].get<int64_t>() > NowSeconds() + 500);
  CHECK(ann["NameCard"] == "Annie");
  CHECK(ann["MsgFlag"] == "AcceptNotNotify");
  REQUIRE(Code(Group(c, "delete_group_member", {{"GroupId", pub}, {"MemberToDel_Account", {"ann"}}})) == 0);
  REQUIRE(Code(Group(c, "add_group_member", {{"GroupId", pub}, {"MemberList", {{{"Member_Account", "ann"}}}}})) == 0);
  CHECK(member("ann")["MuteUntil"].get<int64_t>() > NowSeconds() + 500);
  CHECK(member("ann")["NameCard"] == "");  // a new membership, the mute kept
  CHECK(Code(Group(c, "modify_group_member_info",
                   {{"GroupId", pub}, {"Member_Account", "ann"}, {"MuteTime", 0}})) == 0);
  CHECK(member("ann")["MuteUntil"] == 0);
  CHECK(Code(Group(c, "modify_group_member_info",
                   {{"GroupId", pub}, {"Member_Account", "ann"}, {"NameCard", std::string(51, 'n')}})) ==
        10004);
  CHECK(Code(Group(c, "modify_group_member_info",
                   {{"GroupId", pub}, {"Member_Account", "ben"}, {"NameCard", "x"}})) == 10007);

  // Joined lists: a Work group is listed only once active, or when asked for.
  auto joined = [&](json extra) {
    extra["Member_Account"] = "ann";
    json got = Group(c, "get_joined_group_list", extra);
    REQUIRE(Code(got) == 0);
    std::set<std::string> ids;
    for (const auto& g : got["GroupIdList"]) ids.insert(g["GroupId"]);
    return ids;
  };
  CHECK(joined(json::object()) == std::set<std::string>{pub});
  CHECK(joined({{"WithNoActiveGroups", 1}}) == std::set<std::string>{pub, work});
  CHECK(joined({{"WithNoActiveGroups", 1}, {"GroupType", "Private"}}) ==
        std::set<std::string>{work});
  json detailed = Group(c, "get_joined_group_list",
                        {{"Member_Account", "ann"},
                         {"ResponseFilter", {{"GroupBaseInfoFilter", {"Name", "Type"}},
                                             {"SelfInfoFilter", {"Role", "MsgFlag"}}}}});
  REQUIRE(detailed["GroupIdList"].size() == 1);
  CHECK(detailed["GroupIdList"][0]["Name"] == "Pub 2");
  CHECK(detailed["GroupIdList"][0]["SelfInfo"] == json{{"Role", "Member"}, {"MsgFlag", "AcceptAndNotify"}});
  CHECK(Code(Group(c, "get_joined_group_list", {{"Member_Account", ""}})) == 10004);

  // The app's groups page by Next until 0.
  std::set<std::string> all;
  uint64_t next = 0;
  for (int pages = 0; pages < 5; ++pages) {
    json got = Group(c, "get_appid_group_list", {{"Limit", 1}, {"Next", next}});
    REQUIRE(Code(got) == 0);
    CHECK(got["TotalCount"] == 2);
    for (const auto& g : got["GroupIdList"]) all.insert(g["GroupId"]);
    next = got["Next"];
    if (next == 0) break;
  }
  CHECK(all == std::set<std::string>{pub, work});
  CHECK(Group(c, "get_appid_group_list", {{"GroupType", "Private"}})["TotalCount"] == 1);

  // Disband: gone for every call, twice is 10010.
  CHECK(Code(Group(c, "destroy_group", {{"GroupId", pub}})) == 0);
  json gone = Group(c, "get_group_info", {{"GroupIdList", {pub, work}}});
  CHECK(gone["GroupInfo"][0]["ErrorCode"] == 10010);
  CHECK(gone["GroupInfo"][1]["ErrorCode"] == 0);
  CHECK(Code(Group(c, "destroy_group", {{"GroupId", pub}})) == 10010);
  CHECK(Code(Group(c, "destroy_group", {{"GroupId", ""}})) == 10015);
  CHECK(joined({{"WithNoActiveGroups", 1}}) == std::set<std::string>{work});
}

TEST_CASE("muting, attributes and counters over REST", "[group]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann", "ben"});
  std::string id = Create(c, {{"Owner_Account", "owner"}, {"Type", "Public"}, {"Name", "Mutes"},
                              {"MemberList", {{{"Member_Account", "ann"}},
                                              {{"Member_Account", "ben"}}}}});
  std::string work = Create(c, {{"Owner_Account", "owner"}, {"Type", "Private"}, {"Name", "W"}});

  // forbid_send_msg and both listings.
  CHECK(Code(Group(c, "forbid_send_msg",
                   {{"GroupId", id}, {"Members_Account", {"ann", "nobody"}}, {"MuteTime", 3600}})) ==
        0);
  CHECK(Code(Group(c, "forbid_send_msg", {{"GroupId", id}, {"Members_Account", {"owner"}},
                                          {"MuteTime", 60}})) == 10007);
  CHECK(Code(Group(c, "forbid_send_msg", {{"GroupId", work}, {"Members_Account", {"owner"}},
                                          {"MuteTime", 60}})) == 10007);
  CHECK(Code(Group(c, "forbid_send_msg", {{"GroupId", id}, {"Members_Account", {"ann"}}})) ==
        10004);  // no MuteTime
  CHECK(Code(Group(c, "forbid_send_msg", {{"GroupId", id}, {"Members_Account", json::array()},
                                          {"MuteTime", 60}})) == 10004);
  json muted = Group(c, "get_group_muted_account", {{"GroupId", id}});
  REQUIRE(Code(muted) == 0);
  REQUIRE(muted["MutedAccountList"].size() == 1);
  CHECK(muted["MutedAccountList"][0]["Member_Account"] == "ann");
  CHECK(muted["MutedAccountList"][0]["MutedUntil"].get<int64_t>() > NowSeconds() + 3000);
  json shutted = Group(c, "get_group_shutted_uin", {{"GroupId", id}});
  REQUIRE(shutted["ShuttedUinList"].size() == 1);
  CHECK(shutted["ShuttedUinList"][0]["Member_Account"] == "ann");
  CHECK(Code(Group(c, "forbid_send_msg", {{"GroupId", id}, {"Members_Account", {"ann"}},
                                          {"ShutUpTime", 0}})) == 0);
  CHECK(Group(c, "get_group_muted_account", {{"GroupId", id}})["MutedAccountList"].empty());
  CHECK(Code(Group(c, "get_group_muted_account", {{"GroupId", "nope"}})) == 10010);

  // Attributes: lower-case key/value, get under group_open_attr_http_svc.
  auto attrs = [&]() {
    json got = c.Rest("group_open_attr_http_svc/get_group_attr", json{{"GroupId", id}}.dump());
    REQUIRE(Code(got) == 0);
    std::map<std::string, std::string> out;
    for (const auto& a : got["GroupAttrAry"]) out[a["key"]] = a["value"];
    return out;
  };
  CHECK(attrs().empty());
  CHECK(Code(Group(c, "modify_group_attr",
                   {{"GroupId", id}, {"GroupAttr", {{{"key", "topic"}, {"value", "chess"}},
                                                    {{"key", "seat"}, {"value", "3"}}}}})) == 0);
  CHECK(attrs() == std::map<std::string, std::string>{{"seat", "3"}, {"topic", "chess"}});
  CHECK(Code(Group(c, "delete_group_attr", {{"GroupId", id}, {"GroupAttr", {{{"key", "seat"}}}}})) ==
        0);
  CHECK(Code(Group(c, "delete_group_attr", {{"GroupId", id}, {"GroupAttr", {{{"key", "seat"}}}}})) ==
        10050);
  CHECK(Code(Group(c, "set_group_attr", {{"GroupId", id}, {"GroupAttr", {{{"key", "only"}, {"value", "1"}}}}})) ==
        0);
  CHECK(attrs() == std::map<std::string, std::string>{{"only", "1"}});
  CHECK(Code(Group(c, "modify_group_attr",
                   {{"GroupId", id}, {"GroupAttr", {{{"key", std::string(33, 'k')}, {"value", "v"}}}}})) ==
        10045);
  CHECK(Code(Group(c, "modify_group_attr",
                   {{"GroupId", id}, {"GroupAttr", {{{"key", "k"}, {"value", std::string(4001, 'v')}}}}})) ==
        10046);
  json seventeen = json::array();
  for (int i = 0; i < 17; ++i) seventeen.push_back({{"key", "k" + std::to_string(i)}, {"value", "v"}});
  CHECK(Code(Group(c, "modify_group_attr", {{"GroupId", id}, {"GroupAttr", seventeen}})) == 10047);
  CHECK(attrs() == std::map<std::string, std::string>{{"only", "1"}});
  CHECK(Code(Group(c, "clear_group_attr", {{"GroupId", id}})) == 0);
  CHECK(attrs().empty());

  // Counters: Set / Increase / Decrease, numbers in and out.
  json set = Group(c, "update_group_counter",
                   {{"GroupId", id}, {"Mode", "Set"},
                    {"GroupCounter", {{{"Key", "likes"}, {"Value", 10}}, {{"Key", "gifts"}, {"Value", 1}}}}});
  REQUIRE(Code(set) == 0);
  CHECK(set["GroupCounter"].size() == 2);
  json inc = Group(c, "update_group_counter", {{"GroupId", id}, {"Mode", "Increase"},
                                               {"GroupCounter", {{{"Key", "likes"}, {"Value", 5}}}}});
  REQUIRE(Code(inc) == 0);
  CHECK(inc["GroupCounter"] == json::array({{{"Key", "likes"}, {"Value", 15}}}));
  json dec = Group(c, "update_group_counter", {{"GroupId", id}, {"Mode", "Decrease"},
                                               {"GroupCounter", {{{"Key", "gifts"}, {"Value", 3}}}}});
  CHECK(dec["GroupCounter"][0]["Value"] == -2);
  json got = Group(c, "get_group_counter", {{"GroupId", id}, {"GroupCounterKeys", {"likes", "none"}}});
  CHECK(got["GroupCounter"] == json::array({{{"Key", "likes"}, {"Value", 15}}}));
  CHECK(Group(c, "get_group_counter", {{"GroupId", id}})["GroupCounter"].size() == 2);
  CHECK(Code(Group(c, "update_group_counter", {{"GroupId", id}, {"Mode", "Twice"},
                                               {"GroupCounter", {{{"Key", "likes"}, {"Value", 1}}}}})) ==
        10004);
  CHECK(Code(Group(c, "update_group_counter", {{"GroupId", id},
                                               {"GroupCounter", {{{"Key", "likes"}, {"Value", 0.5}}}}})) ==
        10004);
  json many = json::array();
  for (int i = 0; i < 19; ++i) many.push_back({{"Key", "c" + std::to_string(i)}, {"Value", 1}});
  CHECK(Code(Group(c, "update_group_counter", {{"GroupId", id}, {"GroupCounter", many}})) == 10063);
  CHECK(Code(Group(c, "delete_group_counter", {{"GroupId", id}, {"GroupCounterKeys", {"likes"}}})) == 0);
  CHECK(Group(c, "get_group_counter", {{"GroupId", id}})["GroupCounter"].size() == 1);
  CHECK(Code(Group(c, "delete_group_counter", {{"GroupId", id}, {"GroupCounterKeys", json::array()}})) ==
        10004);
}

TEST_CASE("group callbacks: before-create and before-invite decide, after-events report",
          "[group][callback]") {
  WebhookReceiver receiver;
  receiver.OnCommand("Group.CallbackBeforeCreateGroup", [](const WebhookReceiver::Call& call) {
    if (call.body.value("Name", "") == "forbidden") {
      return WebhookReceiver::Ok({{"ErrorCode", 1}, {"ErrorInfo", "not that name"}});
    }
    return WebhookReceiver::Ok();
  });
  receiver.OnCommand("Group.CallbackBeforeInviteJoinGroup", [](const WebhookReceiver::Call&) {
    return WebhookReceiver::Ok({{"RefusedMembers_Account", {"ben"}}});
  });
  TestCluster c({{"PARLEY_CALLBACK_URL", receiver.url()}});
  ImportAccounts(c, {"owner", "ann", "ben", "cat"});
  auto one = [&](const std::string& command, const std::string& group) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& call : receiver.Calls(command)) {
        if (call.body.value("GroupId", "") == group) return call.body;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("no " << command << " for " << group);
    return json();
  };

  json refused = Group(c, "create_group", {{"Owner_Account", "owner"}, {"Type", "Public"},
                                           {"Name", "forbidden"}});
  CHECK(Code(refused) == 10016);
  CHECK(refused["ErrorInfo"] == "not that name");
  CHECK(Group(c, "get_appid_group_list", json::object())["TotalCount"] == 0);

  std::string id = Create(c, {{"Owner_Account", "owner"}, {"Type", "Public"}, {"Name", "Club"},
                              {"MaxMemberCount", 3}});
  json created = one("Group.CallbackAfterCreateGroup", id);
  CHECK(created["Owner_Account"] == "owner");
  CHECK(created["Type"] == "Public");
  CHECK(created["Name"] == "Club");
  CHECK(created["Operator_Account"] == c.admin);
  auto before = receiver.Calls("Group.CallbackBeforeCreateGroup");
  REQUIRE(before.size() == 2);
  CHECK(before[1].body["CreateGroupNum"] == 0);

  // The backend refuses ben: ann joins, ben's result is 0.
  json added = Group(c, "add_group_member",
                     {{"GroupId", id}, {"MemberList", {{{"Member_Account", "ann"}},
                                                       {{"Member_Account", "ben"}}}}});
  REQUIRE(Code(added) == 0);
  std::map<std::string, int> results;
  for (const auto& r : added["MemberList"]) results[r["Member_Account"]] = r["Result"];
  CHECK(results == std::map<std::string, int>{{"ann", 1}, {"ben", 0}});
  json invite = one("Group.CallbackBeforeInviteJoinGroup", id);
  CHECK(invite["DestinationMembers"] ==
        json::array({{{"Member_Account", "ann"}}, {{"Member_Account", "ben"}}}));
  json joined = one("Group.CallbackAfterNewMemberJoin", id);
  CHECK(joined["JoinType"] == "Invited");
  CHECK(joined["NewMemberList"] == json::array({{{"Member_Account", "ann"}}}));
  REQUIRE(Code(Group(c, "add_group_member",
                     {{"GroupId", id}, {"MemberList", {{{"Member_Account", "cat"}}}}})) == 0);
  CHECK(one("Group.CallbackAfterGroupFull", id)["GroupId"] == id);

  REQUIRE(Code(Group(c, "modify_group_base_info", {{"GroupId", id}, {"Name", "Club 2"}})) == 0);
  json info = one("Group.CallbackAfterGroupInfoChanged", id);
  CHECK(info["Name"] == "Club 2");
  CHECK_FALSE(info.contains("Introduction"));

  REQUIRE(Code(Group(c, "modify_group_member_info",
                     {{"GroupId", id}, {"Member_Account", "ann"}, {"Role", "Admin"}})) == 0);
  json field = one("Group.CallbackAfterMemberFieldChanged", id);
  CHECK(field["Member_Account"] == "ann");
  CHECK(field["Role"] == "Admin");

  REQUIRE(Code(Group(c, "modify_group_attr",
                     {{"GroupId", id}, {"GroupAttr", {{{"key", "k"}, {"value", "v"}}}}})) == 0);
  json attr = one("Group.CallbackAfterGroupAttrChanged", id);
  CHECK(attr["OptionType"] == "modify");
  CHECK(attr["GroupAttr"] == json::array({{{"key", "k"}, {"value", "v"}}}));

  REQUIRE(Code(Group(c, "change_group_owner", {{"GroupId", id}, {"NewOwner_Account", "ann"}})) == 0);
  json owner = one("Group.CallbackAfterChangeGroupOwner", id);
  CHECK(owner["OldOwner_Account"] == "owner");
  CHECK(owner["NewOwner_Account"] == "ann");

  REQUIRE(Code(Group(c, "delete_group_member", {{"GroupId", id}, {"MemberToDel_Account", {"cat"}}})) ==
          0);
  json exit = one("Group.CallbackAfterMemberExit", id);
  CHECK(exit["ExitType"] == "Kicked");
  CHECK(exit["ExitMemberList"] == json::array({{{"Member_Account", "cat"}}}));

  REQUIRE(Code(Group(c, "destroy_group", {{"GroupId", id}})) == 0);
  json destroyed = one("Group.CallbackAfterGroupDestroyed", id);
  CHECK(destroyed["Owner_Account"] == "ann");
  CHECK(destroyed["Name"] == "Club 2");
  CHECK(destroyed["MemberList"] ==
        json::array({{{"Member_Account", "owner"}}, {{"Member_Account", "ann"}}}));
}

TEST_CASE("import_group and import_group_member keep times and roles and call nobody back",
          "[group]") {
  WebhookReceiver receiver;
  TestCluster c({{"PARLEY_CALLBACK_URL", receiver.url()}});
  ImportAccounts(c, {"owner", "ann", "ben"});
  json imported = Group(c, "import_group", {{"Owner_Account", "owner"}, {"Type", "Private"},
                                            {"GroupId", "old-team"}, {"Name", "Old"},
                                            {"CreateTime", 1500000000}});
  REQUIRE(Code(imported) == 0);
  CHECK(imported["GroupId"] == "old-team");
  json info = Group(c, "get_group_info", {{"GroupIdList", {"old-team"}}})["GroupInfo"][0];
  CHECK(info["CreateTime"] == 1500000000);
  // An imported Work group is active: listed without WithNoActiveGroups.
  json list = Group(c, "get_joined_group_list", {{"Member_Account", "owner"}});
  REQUIRE(list["GroupIdList"].size() == 1);

  json members = Group(c, "import_group_member",
                       {{"GroupId", "old-team"},
                        {"MemberList", {{{"Member_Account", "ann"}, {"JoinTime", 1500000100}},
                                        {{"Member_Account", "ghost"}},
                                        {{"Member_Account", "owner"}}}}});
  REQUIRE(Code(members) == 0);
  std::map<std::string, int> results;
  for (const auto& r : members["MemberList"]) results[r["Member_Account"]] = r["Result"];
  CHECK(results == std::map<std::string, int>{{"ann", 1}, {"ghost", 0}, {"owner", 2}});
  json ann = Group(c, "get_specified_group_member_info",
                   {{"GroupId", "old-team"}, {"Member_List_Account", {"ann"}}})["MemberList"][0];
  CHECK(ann["JoinTime"] == 1500000100);

  // Bad input, each changing nothing.
  CHECK(Code(Group(c, "import_group_member",
                   {{"GroupId", "old-team"},
                    {"MemberList", {{{"Member_Account", "ben"}, {"Role", "Admin"}}}}})) == 10004);
  CHECK(Code(Group(c, "import_group_member",
                   {{"GroupId", "old-team"},
                    {"MemberList", {{{"Member_Account", "ben"}, {"JoinTime", NowSeconds() + 3600}}}}})) ==
        10004);
  CHECK(Code(Group(c, "import_group_member",
                   {{"GroupId", "nope"}, {"MemberList", {{{"Member_Account", "ben"}}}}})) == 10010);
  CHECK(Code(Group(c, "import_group", {{"Type", "Public"}, {"Name", "x"},
                                       {"CreateTime", NowSeconds() + 3600}})) == 10004);
  CHECK(Code(Group(c, "import_group", {{"Type", "Public"}, {"Name", "x"},
                                       {"MemberList", {{{"Member_Account", "ann"}}}}})) == 10004);
  CHECK(Roles(c, "old-team", {"ben"})["ben"] == "NotMember");

  // Imports raise no callbacks; a create right after does.
  std::string made = Create(c, {{"Type", "Public"}, {"Name", "New"}});
  receiver.WaitFor("Group.CallbackAfterCreateGroup", 1);
  for (const auto& call : receiver.Calls("Group.CallbackAfterCreateGroup")) {
    CHECK(call.body["GroupId"] == made);
  }
  CHECK(receiver.Calls("Group.CallbackAfterNewMemberJoin").empty());
}

namespace {

// One group command over the client protocol's api frame: the body, or
// {"errorCode": code} when it failed.

}  // namespace

TEST_CASE("end users manage groups over the client protocol, each by their role",
          "[group][ws]") {
  TestCluster c;
  ImportAccounts(c, {"olga", "adam", "mia", "nick"});
  WsClient olga(c.http_port), adam(c.http_port), mia(c.http_port), nick(c.http_port);
  LoginOk(olga, c, "olga");
  LoginOk(adam, c, "adam");
  LoginOk(mia, c, "mia");
  LoginOk(nick, c, "nick");

  // A user creates groups they own, whatever Owner_Account says.
  json created = UserCall(olga, "create_group",
                          {{"Type", "Public"}, {"Name", "Ours"}, {"Owner_Account", "nick"},
                           {"MemberList", {{{"Member_Account", "adam"}}, {{"Member_Account", "mia"}}}}});
  REQUIRE(UserCode(created) == 0);
  std::string id = created["GroupId"];
  CHECK(Roles(c, id, {"olga", "nick"}) ==
        std::map<std::string, std::string>{{"olga", "Owner"}, {"nick", "NotMember"}});

  // Roles: only the owner sets them.
  CHECK(UserCode(UserCall(mia, "modify_group_member_info",
                          {{"GroupId", id}, {"Member_Account", "adam"}, {"Role", "Admin"}})) == 10007);
  CHECK(UserCode(UserCall(olga, "modify_group_member_info",
                          {{"GroupId", id}, {"Member_Account", "adam"}, {"Role", "Admin"}})) == 0);

  // Profile: admins edit, members do not; non-members see nothing.
  CHECK(UserCode(UserCall(mia, "modify_group_base_info", {{"GroupId", id}, {"Name", "Mine"}})) ==
        10007);
  CHECK(UserCode(UserCall(adam, "modify_group_base_info", {{"GroupId", id}, {"Name", "Ours 2"}})) ==
        0);
  CHECK(UserCode(UserCall(nick, "get_group_member_info", {{"GroupId", id}})) == 10007);
  json info = UserCall(nick, "get_group_info", {{"GroupIdList", {id}}});
  CHECK(info["GroupInfo"][0]["ErrorCode"] == 10007);
  CHECK(UserCall(mia, "get_group_member_info", {{"GroupId", id}})["MemberNum"] == 3);

  // Own settings: MsgFlag for oneself only.
  CHECK(UserCode(UserCall(mia, "modify_group_member_info",
                          {{"GroupId", id}, {"Member_Account", "mia"}, {"MsgFlag", "Discard"}})) == 0);
  CHECK(UserCode(UserCall(adam, "modify_group_member_info",
                          {{"GroupId", id}, {"Member_Account", "mia"}, {"MsgFlag", "Discard"}})) ==
        10007);

  // Kick and mute: a member may not, an admin may (members only), never the owner.
  CHECK(UserCode(UserCall(mia, "delete_group_member",
                          {{"GroupId", id}, {"MemberToDel_Account", {"adam"}}})) == 10007);
  CHECK(UserCode(UserCall(adam, "forbid_send_msg",
                          {{"GroupId", id}, {"Members_Account", {"olga"}}, {"MuteTime", 60}})) ==
        10007);
  CHECK(UserCode(UserCall(adam, "forbid_send_msg",
                          {{"GroupId", id}, {"Members_Account", {"mia"}}, {"MuteTime", 60}})) == 0);
  CHECK(UserCode(UserCall(mia, "add_group_member",
                          {{"GroupId", id}, {"MemberList", {{{"Member_Account", "nick"}}}}})) ==
        10007);  // Public: members do not invite

  // Quitting: a member may, the owner of a Public group may not (10009).
  CHECK(UserCode(UserCall(olga, "quit_group", {{"GroupId", id}})) == 10009);
  CHECK(UserCode(UserCall(mia, "quit_group", {{"GroupId", id}})) == 0);
  CHECK(Roles(c, id, {"mia"})["mia"] == "NotMember");
  CHECK(UserCode(UserCall(mia, "quit_group", {{"GroupId", id}})) == 10007);
  CHECK(Code(Group(c, "quit_group", {{"GroupId", id}})) == 10007);  // not for the app admin

  // A Work group: members invite, the owner may quit and leaves it ownerless,
  // and only the app disbands it.
  json work = UserCall(olga, "create_group", {{"Type", "Private"}, {"Name", "Desk"}});
  REQUIRE(UserCode(work) == 0);
  std::string desk = work["GroupId"];
  CHECK(UserCode(UserCall(olga, "add_group_member",
                          {{"GroupId", desk}, {"MemberList", {{{"Member_Account", "mia"}}}}})) == 0);
  CHECK(UserCode(UserCall(mia, "add_group_member",
                          {{"GroupId", desk}, {"MemberList", {{{"Member_Account", "nick"}}}}})) == 0);
  CHECK(UserCode(UserCall(olga, "destroy_group", {{"GroupId", desk}})) == 10007);
  CHECK(UserCode(UserCall(olga, "quit_group", {{"GroupId", desk}})) == 0);
  json after = Group(c, "get_group_info", {{"GroupIdList", {desk}}})["GroupInfo"][0];
  CHECK(after["Owner_Account"] == "");
  CHECK(after["MemberNum"] == 2);

  // Lists: one's own groups; the app-wide list is the app's.
  json mine = UserCall(mia, "get_joined_group_list", {{"Member_Account", "olga"}, {"WithNoActiveGroups", 1}});
  REQUIRE(mine["GroupIdList"].size() == 1);
  CHECK(mine["GroupIdList"][0]["GroupId"] == desk);
  CHECK(UserCode(UserCall(mia, "get_appid_group_list", json::object())) == 10007);
  CHECK(UserCode(UserCall(mia, "import_group", {{"Type", "Public"}, {"Name", "x"}})) == 10007);
  CHECK(UserCall(mia, "get_group_attr", {{"GroupId", desk}}, "group_open_attr_http_svc")
            .contains("GroupAttrAry"));
  CHECK(UserCode(UserCall(olga, "destroy_group", {{"GroupId", id}})) == 0);  // a Public owner may
}

// The next join-request notice pushed to `client` (its groupRequest), skipping
// other events.
std::optional<json> NextGroupRequest(WsClient& client, int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto event = client.NextEvent(200);
    if (event && (*event)["kind"] == "KIND_GROUP_REQUEST") {
      CHECK_FALSE(event->contains("seq"));  // online-only
      return (*event)["groupRequest"];
    }
  }
  return std::nullopt;
}

TEST_CASE("requests to join: free groups take users at once, others wait for an owner or admin",
          "[group][ws]") {
  WebhookReceiver receiver;
  receiver.OnCommand("Group.CallbackBeforeApplyJoinGroup", [](const WebhookReceiver::Call& call) {
    if (call.body.value("Requestor_Account", "") == "troll") {
      return WebhookReceiver::Ok({{"ErrorCode", 1}, {"ErrorInfo", "not you"}});
    }
    return WebhookReceiver::Ok();
  });
  TestCluster c({{"PARLEY_CALLBACK_URL", receiver.url()}});
  ImportAccounts(c, {"owner", "adm", "ann", "ben", "troll"});
  std::string strict = Create(c, {{"Owner_Account", "owner"}, {"Type", "Public"}, {"Name", "Strict"},
                                  {"MemberList", {{{"Member_Account", "adm"}, {"Role", "Admin"}}}}});
  std::string open = Create(c, {{"Owner_Account", "owner"}, {"Type", "Public"}, {"Name", "Open"},
                                {"ApplyJoinOption", "FreeAccess"}, {"MaxMemberCount", 2}});
  std::string closed = Create(c, {{"Owner_Account", "owner"}, {"Type", "Public"}, {"Name", "Closed"},
                                  {"ApplyJoinOption", "DisableApply"}});
  std::string work = Create(c, {{"Owner_Account", "owner"}, {"Type", "Private"}, {"Name", "Work"}});
  WsClient adm(c.http_port), ann(c.http_port), ben(c.http_port), troll(c.http_port);
  LoginOk(adm, c, "adm");
  LoginOk(ann, c, "ann");
  LoginOk(ben, c, "ben");
  LoginOk(troll, c, "troll");

  // FreeAccess: in at once; full groups refuse (10014).
  json joined = UserCall(ann, "apply_join_group", {{"GroupId", open}});
  CHECK(joined["JoinStatus"] == "Joined");
  CHECK(Roles(c, open, {"ann"})["ann"] == "Member");
  CHECK(UserCode(UserCall(ann, "apply_join_group", {{"GroupId", open}})) == 10013);
  CHECK(UserCode(UserCall(ben, "apply_join_group", {{"GroupId", open}})) == 10014);
  // DisableApply and Work groups refuse; unknown groups are 10010.
  CHECK(UserCode(UserCall(ben, "apply_join_group", {{"GroupId", closed}})) == 10007);
  CHECK(UserCode(UserCall(ben, "apply_join_group", {{"GroupId", work}})) == 10007);
  CHECK(UserCode(UserCall(ben, "apply_join_group", {{"GroupId", "nope"}})) == 10010);
  CHECK(UserCode(UserCall(troll, "apply_join_group", {{"GroupId", strict}})) == 10016);
  CHECK(UserCode(UserCall(ben, "apply_join_group",
                          {{"GroupId", strict}, {"ApplyMsg", std::string(301, 'x')}})) == 10004);

  // NeedPermission: pending until an owner or admin answers.
  json pending = UserCall(ben, "apply_join_group", {{"GroupId", strict}, {"ApplyMsg", "let me in"}});
  CHECK(pending["JoinStatus"] == "Pending");
  // The admin's online device hears of it at once.
  auto asked = NextGroupRequest(adm);
  REQUIRE(asked.has_value());
  CHECK((*asked)["change"] == "join_requested");
  CHECK((*asked)["groupId"] == strict);
  CHECK((*asked)["applicant"] == "ben");
  CHECK((*asked)["applyMsg"] == "let me in");
  CHECK(UserCall(ann, "apply_join_group", {{"GroupId", strict}})["JoinStatus"] == "Pending");
  auto asked_again = NextGroupRequest(adm);
  REQUIRE(asked_again.has_value());
  CHECK((*asked_again)["applicant"] == "ann");
  CHECK(Roles(c, strict, {"ben"})["ben"] == "NotMember");
  CHECK(UserCode(UserCall(ben, "get_join_group_requests", {{"GroupId", strict}})) == 10007);
  json requests = UserCall(adm, "get_join_group_requests", {{"GroupId", strict}});
  REQUIRE(requests["JoinRequestList"].size() == 2);
  std::set<std::string> applicants;
  for (const auto& r : requests["JoinRequestList"]) applicants.insert(r["Applicant_Account"]);
  CHECK(applicants == std::set<std::string>{"ann", "ben"});
  CHECK(Group(c, "get_join_group_requests", {{"GroupId", strict}})["JoinRequestList"].size() == 2);
  CHECK(UserCode(UserCall(adm, "handle_join_group_request",
                          {{"GroupId", strict}, {"Applicant_Account", "ben"}, {"Action", "Maybe"}})) ==
        10004);
  REQUIRE(UserCode(UserCall(adm, "handle_join_group_request",
                            {{"GroupId", strict}, {"Applicant_Account", "ben"}, {"Action", "Accept"}})) ==
          0);
  CHECK(Roles(c, strict, {"ben"})["ben"] == "Member");
  auto accepted = NextGroupRequest(ben);
  REQUIRE(accepted.has_value());
  CHECK((*accepted)["change"] == "join_accepted");
  CHECK((*accepted)["operatorAccount"] == "adm");
  auto handled = NextGroupRequest(adm);  // the other managers' lists changed
  REQUIRE(handled.has_value());
  CHECK((*handled)["change"] == "join_accepted");
  CHECK((*handled)["applicant"] == "ben");
  json tip;
  do {
    auto event = ben.NextGroupEvent(5000);
    REQUIRE(event.has_value());
    tip = *event;
  } while (tip["GroupId"] != strict);
  CHECK(tip["Tip"]["Type"] == "MemberJoined");
  CHECK(UserCode(UserCall(adm, "handle_join_group_request",
                          {{"GroupId", strict}, {"Applicant_Account", "ben"}, {"Action", "Accept"}})) ==
        10024);  // answered already
  REQUIRE(Code(Group(c, "handle_join_group_request",
                     {{"GroupId", strict}, {"Applicant_Account", "ann"}, {"Action", "Refuse"}})) == 0);
  CHECK(Roles(c, strict, {"ann"})["ann"] == "NotMember");
  auto refused = NextGroupRequest(ann);
  REQUIRE(refused.has_value());
  CHECK((*refused)["change"] == "join_refused");
  CHECK((*refused)["groupId"] == strict);
  CHECK(UserCall(adm, "get_join_group_requests", {{"GroupId", strict}})
            .value("JoinRequestList", json::array())
            .empty());
  CHECK(Code(Group(c, "apply_join_group", {{"GroupId", strict}})) == 10007);  // users only
  auto joins = receiver.WaitFor("Group.CallbackAfterNewMemberJoin", 2);
  bool saw_apply = false;
  for (const auto& call : joins) saw_apply = saw_apply || call.body.value("JoinType", "") == "Apply";
  CHECK(saw_apply);
}

TEST_CASE("custom fields: keys the app declares, values on groups and members, filters",
          "[group]") {
  TestCluster c;
  ImportAccounts(c, {"owner", "ann"});
  // Before any key is declared, custom fields are refused and nothing is created.
  CHECK(Code(Group(c, "create_group", {{"Type", "Public"}, {"Name", "x"},
                                       {"AppDefinedData", {{{"Key", "level"}, {"Value", "1"}}}}})) ==
        10004);
  CHECK(Group(c, "get_appid_group_list", json::object())["TotalCount"] == 0);
  auto settings = parley::v1::GroupService::NewStub(TlsChannel(c.setting("PARLEY_GROUP_TARGET"), "group"));
  parley::v1::GroupSettings update, answer;
  update.set_sdkappid(c.sdkappid);
  update.add_group_data_keys("level");
  update.add_group_data_keys("topic");
  update.add_member_data_keys("badge");
  {
    grpc::ClientContext context;
    REQUIRE(settings->UpdateGroupSettings(&context, update, &answer).ok());
    CHECK(answer.group_data_keys_size() == 2);
  }
  {
    parley::v1::GroupSettings bad = update;
    bad.add_member_data_keys("no-dash");
    grpc::ClientContext context;
    CHECK_FALSE(settings->UpdateGroupSettings(&context, bad, &answer).ok());
  }

  std::string id = Create(c, {{"Owner_Account", "owner"}, {"Type", "Public"}, {"Name", "Fields"},
                              {"AppDefinedData", {{{"Key", "level"}, {"Value", "3"}}}},
                              {"MemberList", {{{"Member_Account", "ann"},
                                               {"AppMemberDefinedData",
                                                {{{"Key", "badge"}, {"Value", "gold"}}}}}}}});
  json info = Group(c, "get_group_info", {{"GroupIdList", {id}}});
  CHECK(info["GroupInfo"][0]["AppDefinedData"] ==
        json::array({{{"Key", "level"}, {"Value", "3"}}}));
  bool ann_badge = false;
  for (const auto& m : info["GroupInfo"][0]["MemberList"]) {
    if (m["Member_Account"] == "ann") {
      ann_badge = m["AppMemberDefinedData"] == json::array({{{"Key", "badge"}, {"Value", "gold"}}});
    }
  }
  CHECK(ann_badge);

  // Modify: undeclared keys and long values refuse the whole call; an empty
  // value removes a key.
  CHECK(Code(Group(c, "modify_group_base_info",
                   {{"GroupId", id}, {"Name", "Changed"},
                    {"AppDefinedData", {{{"Key", "nope"}, {"Value", "1"}}}}})) == 10004);
  CHECK(Group(c, "get_group_info", {{"GroupIdList", {id}}})["GroupInfo"][0]["Name"] == "Fields");
  CHECK(Code(Group(c, "modify_group_base_info",
                   {{"GroupId", id}, {"AppDefinedData", {{{"Key", "topic"},
                                                          {"Value", std::string(513, 't')}}}}})) ==
        10004);
  REQUIRE(Code(Group(c, "modify_group_base_info",
                     {{"GroupId", id},
                      {"AppDefinedData", {{{"Key", "topic"}, {"Value", "chess"}},
                                          {{"Key", "level"}, {"Value", ""}}}}})) == 0);
  json filtered = Group(c, "get_group_info",
                        {{"GroupIdList", {id}},
                         {"ResponseFilter", {{"GroupBaseInfoFilter", {"Name"}},
                                             {"AppDefinedDataFilter_Group", {"topic"}}}}});
  CHECK(filtered["GroupInfo"][0]["AppDefinedData"] ==
        json::array({{{"Key", "topic"}, {"Value", "chess"}}}));
  REQUIRE(Code(Group(c, "modify_group_member_info",
                     {{"GroupId", id}, {"Member_Account", "ann"},
                      {"AppMemberDefinedData", {{{"Key", "badge"}, {"Value", "silver"}}}}})) == 0);
  CHECK(Code(Group(c, "modify_group_member_info",
                   {{"GroupId", id}, {"Member_Account", "ann"},
                    {"AppMemberDefinedData", {{{"Key", "badge"}, {"Value", std::string(65, 'b')}}}}})) ==
        10004);
  json members = Group(c, "get_group_member_info",
                       {{"GroupId", id}, {"AppDefinedDataFilter_GroupMember", {"badge"}}});
  bool silver = false;
  for (const auto& m : members["MemberList"]) {
    if (m["Member_Account"] == "ann") {
      silver = m["AppMemberDefinedData"] == json::array({{{"Key", "badge"}, {"Value", "silver"}}});
    }
  }
  CHECK(silver);
}

TEST_CASE("history before joining by type, and Community members paged by Next", "[group][groupmsg]") {
  TestCluster c;
  std::vector<std::string> users = {"owner", "early", "late"};
  for (int i = 0; i < 5; ++i) users.push_back("crowd" + std::to_string(i));
  ImportAccounts(c, users);
  WsClient late(c.http_port);
  LoginOk(late, c, "late");
  json text = json::array({{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", "before"}}}}});
  // Meeting (ChatRoom) and Community groups show a newcomer what was said
  // before; Work (Private) and Public groups start at the joining.
  std::string community;
  for (const auto& [type, shown] : std::vector<std::pair<std::string, bool>>{
           {"ChatRoom", true}, {"Community", true}, {"Public", false}, {"Private", false}}) {
    INFO(type);
    std::string id = Create(c, {{"Owner_Account", "owner"}, {"Type", type}, {"Name", type},
                                {"MemberList", {{{"Member_Account", "early"}}}}});
    if (type == "Community") {
      community = id;
      CHECK(id.rfind("@TGS#_", 0) == 0);
    }
    REQUIRE(Code(Group(c, "send_group_msg", {{"GroupId", id}, {"From_Account", "early"},
                                             {"Random", 1}, {"MsgBody", text}})) == 0);
    REQUIRE(Code(Group(c, "add_group_member",
                       {{"GroupId", id}, {"MemberList", {{{"Member_Account", "late"}}}}})) == 0);
    json seen = UserCall(late, "group_msg_get_simple", {{"GroupId", id}, {"ReqMsgNumber", 20}});
    REQUIRE(UserCode(seen) == 0);
    bool saw_before = false;
    for (const auto& m : seen.value("RspMsgList", json::array())) {
      for (const auto& element : m.value("MsgBody", json::array())) {
        saw_before = saw_before || element["MsgContent"].value("Text", "") == "before";
      }
    }
    CHECK(saw_before == shown);
    // The app sees everything, whatever the type.
    json all = Group(c, "group_msg_get_simple", {{"GroupId", id}, {"ReqMsgNumber", 20}});
    CHECK(all["RspMsgList"].size() >= 1);
  }

  // A Community's members page by the Next cursor until it comes back empty.
  json crowd = json::array();
  for (int i = 0; i < 5; ++i) crowd.push_back({{"Member_Account", "crowd" + std::to_string(i)}});
  REQUIRE(Code(Group(c, "add_group_member", {{"GroupId", community}, {"MemberList", crowd}})) == 0);
  std::vector<std::string> listed;
  std::string next;
  int pages = 0;
  do {
    json page = Group(c, "get_group_member_info",
                      {{"GroupId", community}, {"Limit", 3}, {"Next", next}});
    REQUIRE(Code(page) == 0);
    CHECK(page["MemberNum"] == 8);
    for (const auto& m : page["MemberList"]) listed.push_back(m["Member_Account"]);
    next = page.value("Next", "");
    REQUIRE(++pages <= 4);
  } while (!next.empty());
  CHECK(listed.size() == 8);
  CHECK(std::set<std::string>(listed.begin(), listed.end()).size() == 8);
  CHECK(Code(Group(c, "get_group_member_info",
                   {{"GroupId", community}, {"Limit", 3}, {"Next", "not-a-cursor"}})) == 10004);
}

TEST_CASE("each group type's permission matrix over the client protocol", "[group][ws]") {
  TestCluster c;
  ImportAccounts(c, {"o", "a", "m", "n", "x", "y"});
  std::map<std::string, std::unique_ptr<WsClient>> ws;
  for (const char* u : {"o", "a", "m", "n", "x", "y"}) {
    ws[u] = std::make_unique<WsClient>(c.http_port);
    LoginOk(*ws[u], c, u);
  }
  auto as = [&](const std::string& user, const std::string& command, json body) {
    return UserCode(UserCall(*ws[user], command, std::move(body)));
  };
  // Expected codes per type (compat reference §5): who may invite, apply,
  // edit the profile, kick, mute, quit as owner and disband.
  struct Row {
    const char* type;
    bool admins;                // the type has an Admin role
    int member_invites;         // m adds x
    const char* apply;          // y applies: JoinStatus, or "" when refused (10007)
    int member_edits;           // m renames the group
    int admin_mutes_member;     // a (or, without admins, o) mutes n
    int owner_quits;            // o quits
  };
  for (const Row& row : std::vector<Row>{
           {"Private", false, 0, "", 0, 10007, 0},
           {"Public", true, 10007, "Pending", 10007, 0, 10009},
           {"ChatRoom", true, 10007, "Joined", 10007, 0, 10009},
           {"Community", true, 0, "Joined", 10007, 0, 10009}}) {
    INFO(row.type);
    json members = json::array({{{"Member_Account", "m"}}, {{"Member_Account", "n"}}});
    if (row.admins) members.push_back({{"Member_Account", "a"}, {"Role", "Admin"}});
    std::string id = Create(c, {{"Owner_Account", "o"}, {"Type", row.type}, {"Name", row.type},
                                {"MemberList", members}});
    json gid = {{"GroupId", id}};
    auto with = [&](json extra) {
      json body = gid;
      body.update(extra);
      return body;
    };
    CHECK(as("m", "add_group_member", with({{"MemberList", {{{"Member_Account", "x"}}}}})) ==
          row.member_invites);
    json applied = UserCall(*ws["y"], "apply_join_group", gid);
    if (std::string(row.apply).empty()) {
      CHECK(UserCode(applied) == 10007);
    } else {
      CHECK(applied["JoinStatus"] == row.apply);
    }
    CHECK(as("m", "modify_group_base_info", with({{"Name", "renamed"}})) == row.member_edits);
    CHECK(as("x", "get_group_member_info", gid) ==
          (row.member_invites == 0 ? 0 : 10007));  // an outsider reads nothing
    // Kicks: a member never; the owner cannot be kicked (10004); an admin
    // kicks members only.
    CHECK(as("m", "delete_group_member", with({{"MemberToDel_Account", {"n"}}})) == 10007);
    std::string kicker = row.admins ? "a" : "o";
    CHECK(as(kicker, "delete_group_member", with({{"MemberToDel_Account", {"o"}}})) == 10004);
    // Mutes: members never; admins (owners) mute members where the type
    // has mutes at all.
    CHECK(as("m", "forbid_send_msg", with({{"Members_Account", {"n"}}, {"MuteTime", 60}})) ==
          10007);
    CHECK(as(kicker, "forbid_send_msg", with({{"Members_Account", {"n"}}, {"MuteTime", 60}})) ==
          row.admin_mutes_member);
    if (row.admins) {
      CHECK(as("a", "delete_group_member", with({{"MemberToDel_Account", {"n"}}})) == 0);
    } else {
      CHECK(as("o", "delete_group_member", with({{"MemberToDel_Account", {"n"}}})) == 0);
    }
    CHECK(Roles(c, id, {"n"})["n"] == "NotMember");
    // Disbanding: the owner of any type but Work (the app's alone).
    CHECK(as("m", "destroy_group", gid) == 10007);
    CHECK(as("o", "quit_group", gid) == row.owner_quits);
    if (row.owner_quits != 0) {
      CHECK(as("o", "destroy_group", gid) == 0);
    } else {
      CHECK(Code(Group(c, "destroy_group", gid)) == 0);
    }
    CHECK(Code(Group(c, "get_group_member_info", gid)) == 10010);
  }
}

TEST_CASE("every group endpoint answers bad input with Tencent's codes and changes nothing",
          "[group]") {
  TestCluster c;
  ImportAccounts(c, {"u1", "owner"});
  std::string real = Create(c, {{"Owner_Account", "owner"}, {"Type", "Public"}, {"Name", "Kept"}});
  json before = Group(c, "get_group_info", {{"GroupIdList", {real}}})["GroupInfo"][0];
  CHECK(before["NextMsgSeq"] == 2);  // the GroupCreated tip took seq 1
  json text = json::array({{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", "x"}}}}});
  // Each command with a body that is valid but for its GroupId ("G").
  std::vector<std::pair<std::string, json>> commands = {
      {"group_open_http_svc/modify_group_base_info", {{"GroupId", "G"}, {"Name", "x"}}},
      {"group_open_http_svc/destroy_group", {{"GroupId", "G"}}},
      {"group_open_http_svc/change_group_owner", {{"GroupId", "G"}, {"NewOwner_Account", "u1"}}},
      {"group_open_http_svc/get_role_in_group", {{"GroupId", "G"}, {"User_Account", {"u1"}}}},
      {"group_open_http_svc/add_group_member",
       {{"GroupId", "G"}, {"MemberList", {{{"Member_Account", "u1"}}}}}},
      {"group_open_http_svc/delete_group_member",
       {{"GroupId", "G"}, {"MemberToDel_Account", {"u1"}}}},
      {"group_open_http_svc/import_group_member",
       {{"GroupId", "G"}, {"MemberList", {{{"Member_Account", "u1"}}}}}},
      {"group_open_http_svc/get_join_group_requests", {{"GroupId", "G"}}},
      {"group_open_http_svc/handle_join_group_request",
       {{"GroupId", "G"}, {"Applicant_Account", "u1"}, {"Action", "Accept"}}},
      {"group_open_http_svc/get_group_member_info", {{"GroupId", "G"}}},
      {"group_open_http_svc/get_specified_group_member_info",
       {{"GroupId", "G"}, {"Member_List_Account", {"u1"}}}},
      {"group_open_http_svc/modify_group_member_info",
       {{"GroupId", "G"}, {"Member_Account", "u1"}, {"NameCard", "x"}}},
      {"group_open_http_svc/forbid_send_msg",
       {{"GroupId", "G"}, {"Members_Account", {"u1"}}, {"MuteTime", 60}}},
      {"group_open_http_svc/get_group_muted_account", {{"GroupId", "G"}}},
      {"group_open_http_svc/get_group_shutted_uin", {{"GroupId", "G"}}},
      {"group_open_http_svc/modify_group_attr",
       {{"GroupId", "G"}, {"GroupAttr", {{{"key", "k"}, {"value", "v"}}}}}},
      {"group_open_http_svc/set_group_attr",
       {{"GroupId", "G"}, {"GroupAttr", {{{"key", "k"}, {"value", "v"}}}}}},
      {"group_open_http_svc/delete_group_attr", {{"GroupId", "G"}, {"GroupAttr", {{{"key", "k"}}}}}},
      {"group_open_http_svc/clear_group_attr", {{"GroupId", "G"}}},
      {"group_open_attr_http_svc/get_group_attr", {{"GroupId", "G"}}},
      {"group_open_http_svc/get_group_counter", {{"GroupId", "G"}}},
      {"group_open_http_svc/update_group_counter",
       {{"GroupId", "G"}, {"GroupCounter", {{{"Key", "k"}, {"Value", 1}}}}, {"Mode", "Set"}}},
      {"group_open_http_svc/delete_group_counter", {{"GroupId", "G"}, {"GroupCounterKeys", {"k"}}}},
      {"group_open_http_svc/send_group_msg", {{"GroupId", "G"}, {"Random", 1}, {"MsgBody", text}}},
      {"group_open_http_svc/group_msg_get_simple", {{"GroupId", "G"}, {"ReqMsgNumber", 5}}},
      {"group_open_http_svc/group_msg_recall", {{"GroupId", "G"}, {"MsgSeqList", {{{"MsgSeq", 1}}}}}},
      {"group_open_http_svc/delete_group_msg_by_sender", {{"GroupId", "G"}, {"Sender_Account", "u1"}}},
      {"group_open_http_svc/clear_group_msg", {{"GroupId", "G"}, {"MsgSeq", 1}}},
      {"group_open_http_svc/import_group_msg",
       {{"GroupId", "G"},
        {"MsgList", {{{"From_Account", "u1"}, {"SendTime", 1600000000}, {"MsgBody", text}}}}}},
      {"group_open_http_svc/set_unread_msg_num",
       {{"GroupId", "G"}, {"Member_Account", "u1"}, {"UnreadMsgNum", 1}}},
      {"group_open_http_svc/send_group_system_notification", {{"GroupId", "G"}, {"Content", "x"}}},
      {"group_open_http_svc/group_msg_receipt",
       {{"GroupId", "G"}, {"From_Account", "u1"}, {"MsgSeqList", {{{"MsgSeq", 1}}}}}},
      {"group_open_http_svc/get_group_msg_receipt",
       {{"GroupId", "G"}, {"MsgSeqList", {{{"MsgSeq", 1}}}}}},
      {"group_open_http_svc/get_group_msg_receipt_detail", {{"GroupId", "G"}, {"MsgSeq", 1}}},
      {"openim/modify_group_msg", {{"GroupId", "G"}, {"MsgSeq", 1}, {"MsgBody", text}}},
  };
  auto with_id = [](json body, json id) {
    body["GroupId"] = std::move(id);
    return body.dump();
  };
  for (const auto& [endpoint, body] : commands) {
    INFO(endpoint);
    bool openim = endpoint.rfind("openim/", 0) == 0;
    // Malformed JSON and wrong types: the service's parse and parameter codes.
    CHECK(Code(c.Rest(endpoint, "{\"GroupId\":")) == (openim ? 90001 : 10011));
    CHECK(Code(c.Rest(endpoint, with_id(body, 5))) == (openim ? 90001 : 10004));
    // Unknown groups 10010; IDs that cannot be a group's (empty, too long,
    // not printable ASCII) 10015.
    CHECK(Code(c.Rest(endpoint, with_id(body, "@TGS#NOSUCHGROUP1"))) == 10010);
    CHECK(Code(c.Rest(endpoint, with_id(body, ""))) == 10015);
    CHECK(Code(c.Rest(endpoint, with_id(body, std::string(48, 'x')))) == 10015);
    CHECK(Code(c.Rest(endpoint, with_id(body, "tab\there"))) == 10015);
  }
  // Over-long fields and over-limit batches.
  auto many = [](int n) {
    json users = json::array();
    for (int i = 0; i < n; ++i) users.push_back("u" + std::to_string(i));
    return users;
  };
  auto members = [&](int n) {
    json list = json::array();
    for (const auto& u : many(n)) list.push_back({{"Member_Account", u}});
    return list;
  };
  CHECK(Code(Group(c, "create_group", {{"Type", "Public"}, {"Name", std::string(31, 'x')}})) == 10004);
  CHECK(Code(Group(c, "create_group", {{"Type", "Public"}, {"Name", "x"}, {"MemberList", members(101)}})) ==
        10005);
  CHECK(Code(Group(c, "add_group_member", {{"GroupId", real}, {"MemberList", members(301)}})) == 10005);
  CHECK(Code(Group(c, "forbid_send_msg",
                   {{"GroupId", real}, {"Members_Account", many(501)}, {"MuteTime", 5}})) == 10005);
  CHECK(Code(Group(c, "get_role_in_group", {{"GroupId", real}, {"User_Account", many(501)}})) == 10005);
  CHECK(Code(Group(c, "get_group_info", {{"GroupIdList", std::vector<std::string>(51, real)}})) ==
        10004);
  CHECK(Code(Group(c, "modify_group_member_info",
                   {{"GroupId", real}, {"Member_Account", "owner"}, {"NameCard", std::string(51, 'x')}})) ==
        10004);
  CHECK(Code(Group(c, "send_group_msg",
                   {{"GroupId", real}, {"Random", 5},
                    {"MsgBody", {{{"MsgType", "TIMTextElem"},
                                  {"MsgContent", {{"Text", std::string(13000, 'x')}}}}}}})) == 80002);
  CHECK(Code(Group(c, "group_msg_get_simple", {{"GroupId", real}, {"ReqMsgNumber", 21}})) == 10004);
  json attrs = json::array();
  for (int i = 0; i < 17; ++i) attrs.push_back({{"key", "k" + std::to_string(i)}, {"value", "v"}});
  CHECK(Code(Group(c, "set_group_attr", {{"GroupId", real}, {"GroupAttr", attrs}})) == 10047);
  json counters = json::array();
  for (int i = 0; i < 21; ++i) counters.push_back({{"Key", "k" + std::to_string(i)}, {"Value", 1}});
  CHECK(Code(Group(c, "update_group_counter",
                   {{"GroupId", real}, {"Mode", "Set"}, {"GroupCounter", counters}})) == 10063);

  // get_group_info answers per group.
  json info = Group(c, "get_group_info", {{"GroupIdList", {"@TGS#NOSUCHGROUP1", "", real}}});
  REQUIRE(Code(info) == 0);
  CHECK(info["GroupInfo"][0]["ErrorCode"] == 10010);
  CHECK(info["GroupInfo"][1]["ErrorCode"] == 10015);
  CHECK(info["GroupInfo"][2]["ErrorCode"] == 0);
  // Nothing changed: the one real group is as it was, with its owner alone.
  CHECK(info["GroupInfo"][2]["Name"] == "Kept");
  CHECK(info["GroupInfo"][2]["MemberNum"] == 1);
  CHECK(info["GroupInfo"][2]["NextMsgSeq"] == before["NextMsgSeq"]);  // no message stored
  json kept_attrs = c.Rest("group_open_attr_http_svc/get_group_attr", json{{"GroupId", real}}.dump());
  REQUIRE(Code(kept_attrs) == 0);
  CHECK(kept_attrs.value("GroupAttrAry", json::array()).empty());
  json apps = Group(c, "get_appid_group_list", json::object());
  CHECK(apps["TotalCount"] == 1);
}
