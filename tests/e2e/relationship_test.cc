// The relationship chain and profiles end to end: sns/* and profile/* REST,
// the client protocol's ApiCall frames, pushes of changes and the send
// permissions the message service applies.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "parley/v1/relationship.grpc.pb.h"
#include "support/e2e_helpers.h"
#include "support/test_cluster.h"
#include "support/tls.h"
#include "support/ws_client.h"

using namespace parley::testing;
using nlohmann::json;

namespace {


json Rest(const TestCluster& c, const std::string& endpoint, const json& body) {
  json answer = c.Rest(endpoint, body.dump());
  INFO(endpoint << " -> " << answer.dump());
  return answer;
}

void Settings(TestCluster& c, const std::function<void(parley::v1::RelationshipSettings&)>& edit) {
  auto stub = parley::v1::RelationshipService::NewStub(
      TlsChannel(c.setting("PARLEY_RELATIONSHIP_TARGET"), "relationship"));
  parley::v1::RelationshipSettings update, answer;
  update.set_sdkappid(c.sdkappid);
  edit(update);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  REQUIRE(stub->UpdateSettings(&context, update, &answer).ok());
}

json Api(WsClient& client, const std::string& id, const std::string& service,
         const std::string& command, const json& body) {
  json answer = client.Call(id, {{"api", {{"service", service}, {"command", command}, {"body", body}}}});
  INFO(service << "/" << command << " -> " << answer.dump());
  return answer;
}


// The next relationship push, skipping other events.
std::optional<json> NextChange(WsClient& client, int timeout_ms = 3000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto event = client.NextEvent(200);
    if (event && (*event)["kind"] == "KIND_RELATIONSHIP") return (*event)["relationshipChange"];
  }
  return std::nullopt;
}

// Changes reach the message service's cache over pub/sub: retry a send until
// it gets the expected answer (or give up after a few seconds).
json SendUntil(WsClient& client, const std::string& to, const std::function<bool(const json&)>& ok) {
  json answer;
  for (int attempt = 0; attempt < 30; ++attempt) {
    answer = client.SendText(to, "try " + std::to_string(attempt));
    if (ok(answer)) return answer;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return answer;
}

int ErrorCodeOf(const json& answer) {
  return answer.contains("error") ? answer["error"].value("errorCode", 0) : 0;
}

}  // namespace

TEST_CASE("sns REST: friends, requests, friend lists and blocklist with their codes", "[sns]") {
  TestCluster c;
  ImportAccounts(c, {"alice", "bob", "carol", "dave"});
  REQUIRE(Rest(c, "profile/portrait_set",
               {{"From_Account", "bob"},
                {"ProfileItem", {{{"Tag", "Tag_Profile_IM_AllowType"},
                                  {"Value", "AllowType_Type_AllowAny"}}}}})["ErrorCode"] == 0);

  json added = Rest(c, "sns/friend_add",
                    {{"From_Account", "alice"},
                     {"AddFriendItem",
                      {{{"To_Account", "bob"}, {"AddSource", "AddSource_Type_Web"},
                        {"Remark", "Bobby"}, {"GroupName", "school"}},
                       {{"To_Account", "carol"}, {"AddSource", "AddSource_Type_Web"},
                        {"AddWording", "hi, it's alice"}},
                       {{"To_Account", "nobody"}}}}});
  REQUIRE(added["ErrorCode"] == 0);
  REQUIRE(added["ResultItem"].size() == 3);
  std::map<std::string, int> codes;
  for (const auto& item : added["ResultItem"]) codes[item["To_Account"]] = item["ResultCode"];
  CHECK(codes["bob"] == 0);
  CHECK(codes["carol"] == 30539);  // NeedConfirm by default: pending
  CHECK(codes["nobody"] == 30003);
  CHECK(added["Fail_Account"] == json::array({"nobody"}));

  json check = Rest(c, "sns/friend_check",
                    {{"From_Account", "alice"},
                     {"To_Account", {"bob", "carol"}},
                     {"CheckType", "CheckResult_Type_Both"}});
  CHECK(check["InfoItem"][0]["Relation"] == "CheckResult_Type_BothWay");
  CHECK(check["InfoItem"][1]["Relation"] == "CheckResult_Type_NoRelation");

  json pending = Rest(c, "sns/pendency_get", {{"From_Account", "carol"}});
  REQUIRE(pending["PendencyItem"].size() == 1);
  CHECK(pending["PendencyItem"][0]["To_Account"] == "alice");
  CHECK(pending["PendencyItem"][0]["AddWording"] == "hi, it's alice");
  CHECK(pending["UnreadPendencyCount"] == 1);
  json answered = Rest(c, "sns/pendency_response",
                       {{"From_Account", "carol"},
                        {"ResponseFriendItem",
                         {{{"To_Account", "alice"}, {"ResponseAction", "Response_Action_AgreeAndAdd"}},
                          {{"To_Account", "dave"}, {"ResponseAction", "Response_Action_Agree"}}}}});
  CHECK(answered["ResultItem"][0]["ResultCode"] == 0);
  CHECK(answered["ResultItem"][1]["ResultCode"] == 30614);
  CHECK(Rest(c, "sns/friend_check", {{"From_Account", "alice"}, {"To_Account", {"carol"}}})
            ["InfoItem"][0]["Relation"] == "CheckResult_Type_BothWay");

  json got = Rest(c, "sns/friend_get", {{"From_Account", "alice"}, {"StartIndex", 0}});
  CHECK(got["FriendNum"] == 2);
  CHECK(got["CompleteFlag"] == 1);
  REQUIRE(got["UserDataItem"].size() == 2);
  CHECK(got["UserDataItem"][0]["To_Account"] == "bob");
  std::map<std::string, json> tags;
  for (const auto& tv : got["UserDataItem"][0]["ValueItem"]) tags[tv["Tag"]] = tv["Value"];
  CHECK(tags["Tag_SNS_IM_Remark"] == "Bobby");
  CHECK(tags["Tag_SNS_IM_Group"] == json::array({"school"}));
  CHECK(tags["Tag_SNS_IM_AddSource"] == "AddSource_Type_Web");
  CHECK(tags["Tag_SNS_IM_AddTime"].get<int64_t>() >= NowSeconds() - 60);
  // An unchanged list is not sent again.
  json again = Rest(c, "sns/friend_get",
                    {{"From_Account", "alice"}, {"StandardSequence", got["StandardSequence"]}});
  CHECK(again["UserDataItem"].empty());

  CHECK(Rest(c, "sns/friend_update",
             {{"From_Account", "alice"},
              {"UpdateItem", {{{"To_Account", "carol"},
                               {"SnsItem", {{{"Tag", "Tag_SNS_IM_Remark"}, {"Value", "Caz"}}}}}}}})
            ["ResultItem"][0]["ResultCode"] == 0);
  json list = Rest(c, "sns/friend_get_list",
                   {{"From_Account", "alice"},
                    {"To_Account", {"carol", "dave"}},
                    {"TagList", {"Tag_SNS_IM_Remark"}}});
  CHECK(list["InfoItem"][0]["SnsProfileItem"][0]["Value"] == "Caz");
  CHECK(list["InfoItem"][1]["ResultCode"] == 31704);

  // friend_import: one-way, undeclared custom tags refused per item.
  json imported = Rest(c, "sns/friend_import",
                       {{"From_Account", "dave"},
                        {"AddFriendItem",
                         {{{"To_Account", "alice"}, {"GroupName", {"old", "friends"}},
                           {"AddSource", "AddSource_Type_Import"}},
                          {{"To_Account", "bob"},
                           {"CustomItem", {{{"Tag", "Tag_SNS_Custom_Nope"}, {"Value", "x"}}}}}}}});
  CHECK(imported["ResultItem"][0]["ResultCode"] == 0);
  CHECK(imported["ResultItem"][1]["ResultCode"] == 30001);
  CHECK(Rest(c, "sns/friend_check", {{"From_Account", "dave"}, {"To_Account", {"alice"}}})
            ["InfoItem"][0]["Relation"] == "CheckResult_Type_AWithB");

  // Friend lists.
  json group = Rest(c, "sns/group_add",
                    {{"From_Account", "alice"}, {"GroupName", {"work"}}, {"To_Account", {"carol", "dave"}}});
  CHECK(group["ResultItem"][0]["ResultCode"] == 0);
  CHECK(group["ResultItem"][1]["ResultCode"] == 31704);
  json groups = Rest(c, "sns/group_get",
                     {{"From_Account", "alice"}, {"NeedFriend", "Need_Friend_Type_Yes"}});
  REQUIRE(groups["ResultItem"].size() == 2);  // school (from friend_add) and work
  CHECK(groups["ResultItem"][1]["GroupName"] == "work");
  CHECK(groups["ResultItem"][1]["To_Account"] == json::array({"carol"}));
  CHECK(Rest(c, "sns/group_delete", {{"From_Account", "alice"}, {"GroupName", {"work"}}})
            ["ErrorCode"] == 0);
  CHECK(Rest(c, "sns/group_delete", {{"From_Account", "alice"}, {"GroupName", {"work"}}})
            ["ErrorCode"] == 30001);

  // Blocklist: blocking ends the friendship both ways.
  json blocked = Rest(c, "sns/black_list_add", {{"From_Account", "carol"}, {"To_Account", {"alice"}}});
  CHECK(blocked["ResultItem"][0]["ResultCode"] == 0);
  CHECK(Rest(c, "sns/friend_check", {{"From_Account", "alice"}, {"To_Account", {"carol"}}})
            ["InfoItem"][0]["Relation"] == "CheckResult_Type_NoRelation");
  json blocklist = Rest(c, "sns/black_list_get",
                        {{"From_Account", "carol"}, {"StartIndex", 0}, {"MaxLimited", 10}});
  CHECK(blocklist["BlackListItem"][0]["To_Account"] == "alice");
  CHECK(blocklist["StartIndex"] == 0);
  CHECK(blocklist["CurrentSequence"] == blocklist["CurruentSequence"]);
  CHECK(Rest(c, "sns/black_list_check",
             {{"From_Account", "alice"}, {"To_Account", {"carol"}},
              {"CheckType", "BlackCheckResult_Type_Both"}})["BlackListCheckItem"][0]["Relation"] ==
        "BlackCheckResult_Type_BWithA");
  CHECK(Rest(c, "sns/friend_add",
             {{"From_Account", "alice"}, {"AddFriendItem", {{{"To_Account", "carol"}}}}})
            ["ResultItem"][0]["ResultCode"] == 30525);
  CHECK(Rest(c, "sns/black_list_delete", {{"From_Account", "carol"}, {"To_Account", {"alice"}}})
            ["ResultItem"][0]["ResultCode"] == 0);

  // Deletes.
  CHECK(Rest(c, "sns/friend_delete", {{"From_Account", "alice"}, {"To_Account", {"bob"}}})
            ["ResultItem"][0]["ResultCode"] == 0);
  CHECK(Rest(c, "sns/friend_delete", {{"From_Account", "alice"}, {"To_Account", {"bob"}}})
            ["ResultItem"][0]["ResultCode"] == 31704);
  CHECK(Rest(c, "sns/friend_delete_all", {{"From_Account", "dave"}})["ErrorCode"] == 0);
  CHECK(Rest(c, "sns/friend_get", {{"From_Account", "dave"}})["FriendNum"] == 0);

  // A deleted account leaves every list.
  REQUIRE(Rest(c, "sns/friend_add", {{"From_Account", "alice"}, {"AddFriendItem", {{{"To_Account", "bob"}}}}})
              ["ResultItem"][0]["ResultCode"] == 0);
  REQUIRE(Rest(c, "sns/black_list_add", {{"From_Account", "carol"}, {"To_Account", {"bob"}}})
              ["ErrorCode"] == 0);
  REQUIRE(Rest(c, "im_open_login_svc/account_delete", {{"DeleteItem", {{{"UserID", "bob"}}}}})
              ["ResultItem"][0]["ResultCode"] == 0);
  CHECK(Rest(c, "sns/friend_check", {{"From_Account", "alice"}, {"To_Account", {"bob"}}})
            ["InfoItem"][0]["Relation"] == "CheckResult_Type_NoRelation");
  CHECK(Rest(c, "sns/black_list_get", {{"From_Account", "carol"}})["BlackListItem"].empty());
  CHECK(Rest(c, "profile/portrait_get",
             {{"To_Account", {"bob"}}, {"TagList", {"Tag_Profile_IM_AllowType"}}})
            ["UserProfileItem"][0]["ResultCode"] == 40003);
  ImportAccounts(c, {"bob"});  // a new bob starts with nothing
  CHECK(Rest(c, "sns/friend_get", {{"From_Account", "bob"}})["FriendNum"] == 0);

  // Request-level errors change nothing.
  CHECK(c.Rest("sns/friend_add", "{not json")["ErrorCode"] == 30001);
  CHECK(Rest(c, "sns/friend_add", {{"From_Account", "alice"}, {"AddFriendItem", "bob"}})
            ["ErrorCode"] == 30001);
  CHECK(Rest(c, "sns/friend_add", {{"AddFriendItem", {{{"To_Account", "bob"}}}}})["ErrorCode"] ==
        30002);
  CHECK(Rest(c, "sns/friend_add",
             {{"From_Account", "ghost"}, {"AddFriendItem", {{{"To_Account", "bob"}}}}})
            ["ErrorCode"] == 30003);
  CHECK(Rest(c, "sns/friend_add",
             {{"From_Account", "alice"}, {"AddType", "Add_Type_Sideways"},
              {"AddFriendItem", {{{"To_Account", "bob"}}}}})["ErrorCode"] == 30001);
  CHECK(Rest(c, "sns/friend_add",
             {{"From_Account", "alice"},
              {"AddFriendItem", {{{"To_Account", "bob"}, {"AddSource", "Web"}}}}})["ErrorCode"] ==
        30001);
  std::vector<std::string> many(1001, "bob");
  CHECK(Rest(c, "sns/friend_check", {{"From_Account", "alice"}, {"To_Account", many}})
            ["ErrorCode"] == 30001);
  CHECK(Rest(c, "sns/friend_check", {{"From_Account", "alice"}, {"To_Account", {"bob"}}})
            ["InfoItem"][0]["Relation"] == "CheckResult_Type_NoRelation");
  // A user's sig is not an admin's.
  HttpResponse user_call = HttpPost(c.http_port, c.Target("sns/friend_get", "alice", c.Sig("alice")),
                                    R"({"From_Account":"alice"})");
  CHECK(json::parse(user_call.body)["ErrorCode"] == 30004);
}

TEST_CASE("profile REST: types, custom tags, imports and errors", "[profile]") {
  TestCluster c;
  REQUIRE(Rest(c, "im_open_login_svc/account_import",
               {{"UserID", "ann"}, {"Nick", "Ann"}, {"FaceUrl", "https://img.example/ann.png"}})
              ["ErrorCode"] == 0);
  ImportAccounts(c, {"ben"});
  json got = Rest(c, "profile/portrait_get",
                  {{"To_Account", {"ann", "ben", "ghost"}},
                   {"TagList", {"Tag_Profile_IM_Nick", "Tag_Profile_IM_Image"}}});
  REQUIRE(got["UserProfileItem"].size() == 3);
  CHECK(got["UserProfileItem"][0]["ProfileItem"][0]["Value"] == "Ann");
  CHECK(got["UserProfileItem"][0]["ProfileItem"][1]["Value"] == "https://img.example/ann.png");
  CHECK(got["UserProfileItem"][1]["ProfileItem"].empty());
  CHECK(got["UserProfileItem"][2]["ResultCode"] == 40003);
  CHECK(got["Fail_Account"] == json::array({"ghost"}));

  auto set = [&](const std::string& tag, const json& value) {
    return Rest(c, "profile/portrait_set",
                {{"From_Account", "ben"}, {"ProfileItem", {{{"Tag", tag}, {"Value", value}}}}})
        ["ErrorCode"]
            .get<int>();
  };
  CHECK(set("Tag_Profile_IM_Gender", "Gender_Type_Male") == 0);
  CHECK(set("Tag_Profile_IM_Gender", "Male") == 40605);
  CHECK(set("Tag_Profile_IM_BirthDay", "1990-01-01") == 40610);
  CHECK(set("Tag_Profile_IM_BirthDay", 19900101) == 0);
  CHECK(set("Tag_Profile_IM_Level", 7) == 0);  // the backend may set it
  CHECK(set("Tag_Profile_IM_SelfSignature", std::string(501, 's')) == 40601);
  CHECK(set("Tag_Profile_Custom_Hobby", "chess") == 40009);
  CHECK(set("Tag_Profile_IM_Whatever", "x") == 40009);
  Settings(c, [](auto& s) { s.add_profile_custom_tags("Hobby"); });
  CHECK(set("Tag_Profile_Custom_Hobby", "chess") == 0);
  CHECK(set("Tag_Profile_Custom_Hobby", std::string(501, 'c')) == 40601);

  json ben = Rest(c, "profile/portrait_get",
                  {{"To_Account", {"ben"}},
                   {"TagList", {"Tag_Profile_IM_Gender", "Tag_Profile_IM_BirthDay",
                                "Tag_Profile_IM_Level", "Tag_Profile_Custom_Hobby"}}});
  auto items = ben["UserProfileItem"][0]["ProfileItem"];
  REQUIRE(items.size() == 4);
  CHECK(items[0]["Value"] == "Gender_Type_Male");
  CHECK(items[1]["Value"] == 19900101);
  CHECK(items[2]["Value"] == 7);
  CHECK(items[3]["Value"] == "chess");

  CHECK(Rest(c, "profile/portrait_get", {{"To_Account", {"ben"}}})["ErrorCode"] == 40001);
  CHECK(Rest(c, "profile/portrait_set",
             {{"From_Account", "nobody"},
              {"ProfileItem", {{{"Tag", "Tag_Profile_IM_Nick"}, {"Value", "x"}}}}})["ErrorCode"] ==
        40003);
  CHECK(c.Rest("profile/portrait_set", "[1,2]")["ErrorCode"] == 40001);
  HttpResponse user_call = HttpPost(c.http_port, c.Target("profile/portrait_get", "ben", c.Sig("ben")),
                                    R"({"To_Account":["ben"],"TagList":["Tag_Profile_IM_Nick"]})");
  CHECK(json::parse(user_call.body)["ErrorCode"] == 40004);
}

TEST_CASE("client protocol: users manage their own relationships and hear of changes", "[sns][ws]") {
  TestCluster c;
  ImportAccounts(c, {"alice", "bob", "mallory"});
  WsClient alice(c.http_port), bob(c.http_port), bob_pc(c.http_port);
  LoginOk(alice, c, "alice");
  LoginOk(bob, c, "bob");
  LoginOk(bob_pc, c, "bob", "PC");

  json set = Api(bob, "s1", "profile", "portrait_set",
                 {{"ProfileItem", {{{"Tag", "Tag_Profile_IM_Nick"}, {"Value", "Bob"}},
                                   {{"Tag", "Tag_Profile_IM_AllowType"},
                                    {"Value", "AllowType_Type_AllowAny"}}}}});
  REQUIRE(set.contains("apiResult"));
  for (WsClient* device : {&bob, &bob_pc}) {  // all the user's devices hear of it
    auto own_change = NextChange(*device);
    REQUIRE(own_change);
    CHECK((*own_change)["change"] == "profile_changed");
  }

  // From_Account naming someone else is ignored: users act as themselves.
  json add = Api(alice, "a1", "sns", "friend_add",
                 {{"From_Account", "mallory"}, {"AddFriendItem", {{{"To_Account", "bob"}}}}});
  REQUIRE(add.contains("apiResult"));
  CHECK(add["apiResult"]["body"]["ResultItem"][0]["ResultCode"] == 0);
  auto at_bob = NextChange(bob);
  REQUIRE(at_bob);
  CHECK((*at_bob)["change"] == "friend_added");
  CHECK((*at_bob)["accounts"] == json::array({"alice"}));
  auto at_alice = NextChange(alice);
  REQUIRE(at_alice);
  CHECK((*at_alice)["change"] == "friend_added");
  CHECK(Rest(c, "sns/friend_check", {{"From_Account", "mallory"}, {"To_Account", {"bob"}}})
            ["InfoItem"][0]["Relation"] == "CheckResult_Type_NoRelation");

  json friends = Api(alice, "a2", "sns", "friend_get", json::object());
  CHECK(friends["apiResult"]["body"]["FriendNum"] == 1);
  json peer = Api(alice, "a3", "profile", "portrait_get",
                  {{"To_Account", {"bob"}}, {"TagList", {"Tag_Profile_IM_Nick"}}});
  CHECK(peer["apiResult"]["body"]["UserProfileItem"][0]["ProfileItem"][0]["Value"] == "Bob");

  // A friend hears of a profile change.
  REQUIRE(Api(bob, "s2", "profile", "portrait_set",
              {{"ProfileItem", {{{"Tag", "Tag_Profile_IM_Nick"}, {"Value", "Robert"}}}}})
              .contains("apiResult"));
  auto profile = NextChange(alice);
  REQUIRE(profile);
  CHECK((*profile)["change"] == "profile_changed");
  CHECK((*profile)["accounts"] == json::array({"bob"}));

  // What only the backend may do, and what is not open to users.
  CHECK(ErrorCodeOf(Api(alice, "a4", "sns", "friend_import",
                        {{"AddFriendItem", {{{"To_Account", "mallory"}}}}})) == 30004);
  CHECK(ErrorCodeOf(Api(alice, "a5", "profile", "portrait_set",
                        {{"ProfileItem", {{{"Tag", "Tag_Profile_IM_AdminForbidType"},
                                           {"Value", "AdminForbid_Type_None"}}}}})) == 40008);
  CHECK(ErrorCodeOf(Api(alice, "a6", "openim", "sendmsg", json::object())) == 20001);
  CHECK(ErrorCodeOf(Api(alice, "a7", "im_open_login_svc", "account_delete", json::object())) ==
        20001);
  CHECK(ErrorCodeOf(Api(alice, "a8", "sns", "friend_add", {{"AddFriendItem", 5}})) == 30001);

  // Pending requests over the protocol (alice confirms requests by default).
  WsClient mallory(c.http_port);
  LoginOk(mallory, c, "mallory", "Web");
  json request = Api(mallory, "m1", "sns", "friend_add",
                     {{"AddFriendItem", {{{"To_Account", "alice"}, {"AddWording", "hello"}}}}});
  CHECK(request["apiResult"]["body"]["ResultItem"][0]["ResultCode"] == 30539);
  auto incoming = NextChange(alice);
  REQUIRE(incoming);
  CHECK((*incoming)["change"] == "request_received");
  json pending = Api(alice, "a9", "sns", "pendency_get", json::object());
  REQUIRE(pending["apiResult"]["body"]["PendencyItem"].size() == 1);
  CHECK(pending["apiResult"]["body"]["PendencyItem"][0]["To_Account"] == "mallory");
  json accept = Api(alice, "a10", "sns", "pendency_response",
                    {{"ResponseFriendItem",
                      {{{"To_Account", "mallory"}, {"ResponseAction", "Response_Action_Agree"}}}}});
  CHECK(accept["apiResult"]["body"]["ResultItem"][0]["ResultCode"] == 0);
  auto accepted = NextChange(mallory);
  REQUIRE(accepted);
  CHECK((*accepted)["change"] == "friend_added");
  CHECK((*accepted)["accounts"] == json::array({"alice"}));
}

TEST_CASE("a blocked sender is refused and unblocking restores delivery", "[sns][ws]") {
  TestCluster c;
  ImportAccounts(c, {"alice", "bob", "carol"});
  WsClient alice(c.http_port), bob(c.http_port);
  LoginOk(alice, c, "alice");
  LoginOk(bob, c, "bob");
  REQUIRE(alice.SendText("bob", "before").contains("sendAck"));
  REQUIRE(bob.NextEvent());

  REQUIRE(Api(bob, "b1", "sns", "black_list_add", {{"To_Account", {"alice"}}}).contains("apiResult"));
  json refused = SendUntil(alice, "bob", [](const json& a) { return ErrorCodeOf(a) == 20007; });
  CHECK(ErrorCodeOf(refused) == 20007);
  // Nothing reached bob while blocked.
  auto stray = bob.NextEvent(500);
  CHECK((!stray || (*stray)["kind"] == "KIND_RELATIONSHIP"));

  // The app's backend may still send for alice (Tencent's default) ...
  json rest = {{"From_Account", "alice"}, {"To_Account", "bob"}, {"MsgRandom", 7},
               {"MsgBody", {{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", "rest"}}}}}}};
  CHECK(Rest(c, "openim/sendmsg", rest)["ErrorCode"] == 0);
  // ... unless the app says otherwise.
  Settings(c, [](auto& s) { s.set_admin_send_any(false); });
  json rest_refused;
  for (int i = 0; i < 30; ++i) {
    rest["MsgRandom"] = 100 + i;
    rest_refused = Rest(c, "openim/sendmsg", rest);
    if (rest_refused["ErrorCode"] == 20007) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(rest_refused["ErrorCode"] == 20007);

  REQUIRE(Api(bob, "b2", "sns", "black_list_delete", {{"To_Account", {"alice"}}}).contains("apiResult"));
  json delivered = SendUntil(alice, "bob", [](const json& a) { return a.contains("sendAck"); });
  REQUIRE(delivered.contains("sendAck"));
  bool got_it = false;
  while (auto event = bob.NextEvent(2000)) {
    if ((*event)["kind"] == "KIND_MESSAGE" && (*event)["message"]["MsgKey"] == delivered["sendAck"]["msgKey"]) {
      got_it = true;
      break;
    }
  }
  CHECK(got_it);

  // "Check friendship before sending": strangers and one-way friends are refused.
  Settings(c, [](auto& s) { s.set_check_friendship(true); });
  json stranger = SendUntil(alice, "carol", [](const json& a) { return ErrorCodeOf(a) == 20009; });
  CHECK(ErrorCodeOf(stranger) == 20009);
  REQUIRE(Rest(c, "sns/friend_import",
               {{"From_Account", "carol"}, {"AddFriendItem", {{{"To_Account", "alice"}}}}})
              ["ResultItem"][0]["ResultCode"] == 0);
  // carol has alice, alice lacks carol.
  json one_way = SendUntil(alice, "carol", [](const json& a) { return ErrorCodeOf(a) == 20011; });
  CHECK(ErrorCodeOf(one_way) == 20011);
  WsClient carol(c.http_port);
  LoginOk(carol, c, "carol");
  json other_way = SendUntil(carol, "alice", [](const json& a) { return ErrorCodeOf(a) == 20010; });
  CHECK(ErrorCodeOf(other_way) == 20010);
  REQUIRE(Rest(c, "sns/friend_import",
               {{"From_Account", "alice"}, {"AddFriendItem", {{{"To_Account", "carol"}}}}})
              ["ResultItem"][0]["ResultCode"] == 0);
  json friends = SendUntil(alice, "carol", [](const json& a) { return a.contains("sendAck"); });
  CHECK(friends.contains("sendAck"));
}
