// Offline push end to end: devices registered over the client protocol,
// credentials over REST, and notifications arriving at the vendors'
// stand-ins (tests/fakes/push_vendors.py), which check each vendor's
// authentication (the APNs JWT's ES256 signature, FCM's RS256 assertion and
// bearer token, each Android vendor's secret or signature) and headers.
#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "support/e2e_helpers.h"
#include "support/push_vendors.h"
#include "support/test_cluster.h"
#include "support/webhook_receiver.h"

using namespace parley::testing;
using nlohmann::json;

namespace {

json PushApi(const TestCluster& c, const std::string& command, const json& body) {
  return c.Rest("parley_push/" + command, body.dump());
}

int ErrorCodeOf(const json& answer) {
  return answer.contains("error") ? answer["error"].value("errorCode", 0) : 0;
}

json Text(const std::string& text) {
  return json::array({{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", text}}}}});
}

json SendMsg(const TestCluster& c, const std::string& from, const std::string& to,
             const std::string& text, const json& push_info = nullptr) {
  static int random = 1000;
  json body = {{"From_Account", from}, {"To_Account", to}, {"MsgRandom", ++random},
               {"MsgBody", Text(text)}};
  if (!push_info.is_null()) body["OfflinePushInfo"] = push_info;
  return c.Rest("openim/sendmsg", body.dump());
}

// query_online_status of one user: {Status, Detail}.
json StatusOf(const TestCluster& c, const std::string& user) {
  json answer = c.Rest("openim/query_online_status",
                       json{{"To_Account", {user}}, {"IsNeedDetail", 1}}.dump());
  REQUIRE(Code(answer) == 0);
  return answer["QueryResult"][0];
}

// Waits until the user's status is `status`.
std::string WaitStatus(const TestCluster& c, const std::string& user, const std::string& status) {
  std::string now;
  for (int i = 0; i < 100; ++i) {
    now = StatusOf(c, user)["Status"];
    if (now == status) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return now;
}

// Logs `user` in on `platform`, registers the device token and puts the app
// in the background.
void RegisterDevice(WsClient& ws, const TestCluster& c, const std::string& user,
                    const std::string& platform, const std::string& channel,
                    const std::string& token, bool background = true) {
  LoginOk(ws, c, user, platform);
  json ack = ws.Call("t", {{"pushToken", {{"channel", channel}, {"token", token}}}});
  REQUIRE(ack.contains("ack"));
  if (background) REQUIRE(ws.Call("b", {{"appState", {{"background", true}}}}).contains("ack"));
}

std::string AlertBody(const json& apns) { return apns["body"]["aps"]["alert"]["body"]; }

bool ApnsWith(const json& r, const std::string& token, const std::string& text) {
  return r["token"] == token && AlertBody(r) == text;
}

}  // namespace

TEST_CASE("offline push: APNs and FCM notifications with their fields and badge",
          "[push][ws]") {
  PushVendors vendors;
  WebhookReceiver hooks;
  Env env = vendors.ClusterEnv();
  env["PARLEY_CALLBACK_URL"] = hooks.url();
  TestCluster c(env);
  ImportAccounts(c, {"alice", "bob", "carol", "dave"});

  // Credentials: stored, answered without secrets, refused when malformed.
  REQUIRE(Code(PushApi(c, "set_credential", vendors.Credential("APNs"))) == 0);
  REQUIRE(Code(PushApi(c, "set_credential", vendors.Credential("FCM"))) == 0);
  json listed = PushApi(c, "get_credentials", json::object());
  REQUIRE(Code(listed) == 0);
  REQUIRE(listed["Credentials"].size() == 2);
  CHECK(listed["Credentials"][0]["Channel"] == "APNs");
  CHECK(listed["Credentials"][0]["KeyId"] == "KEY0000001");
  CHECK(listed["Credentials"][0]["Environment"] == "sandbox");
  CHECK(listed["Credentials"][0]["Auth"] == "token");
  CHECK(listed["Credentials"][1]["ProjectId"] == "parley-test");
  CHECK(listed.dump().find("PRIVATE KEY") == std::string::npos);
  json bad_key = vendors.Credential("APNs");
  bad_key["PrivateKey"] = "not a key";
  CHECK(Code(PushApi(c, "set_credential", bad_key)) == 90001);
  CHECK(Code(PushApi(c, "set_credential", {{"Channel", "Nokia"}})) == 90001);
  CHECK(Code(PushApi(c, "set_credential", {{"Channel", "FCM"}, {"ServiceAccount", "{}"}})) == 90001);
  CHECK(Code(PushApi(c, "remove_credential", {{"Channel", "vivo"}, {"BusinessId", 9}})) == 90048);

  // alice: Web, in the foreground, no token. bob: an iPhone in the
  // background. carol: an Android phone whose connection dropped.
  WsClient alice(c.http_port);
  LoginOk(alice, c, "alice", "Web");
  WsClient bob(c.http_port);
  RegisterDevice(bob, c, "bob", "iPhone", "APNs", "apns-bob-1");
  {
    WsClient carol(c.http_port);
    RegisterDevice(carol, c, "carol", "Android", "FCM", "fcm-carol-1", false);
  }
  CHECK(WaitStatus(c, "alice", "Online") == "Online");
  CHECK(WaitStatus(c, "bob", "PushOnline") == "PushOnline");
  CHECK(StatusOf(c, "bob")["Detail"] ==
        json::array({{{"Platform", "iPhone"}, {"Status", "PushOnline"}}}));
  CHECK(WaitStatus(c, "carol", "PushOnline") == "PushOnline");

  // Bad frames change nothing.
  CHECK(ErrorCodeOf(bob.Call("x", {{"pushToken", {{"channel", "Nokia"}, {"token", "t"}}}})) == 20001);
  CHECK(ErrorCodeOf(bob.Call("y", {{"pushToken", {{"channel", "APNs"},
                                                  {"token", std::string(513, 'a')}}}})) == 20001);

  SECTION("APNs gets the message's fields, the badge and the right headers, once per message") {
    json info = {{"Title", "From Alice"}, {"Ext", "{\"chat\":\"alice\"}"},
                 {"ApnsInfo", {{"Sound", "ding.caf"}, {"SubTitle", "DM"}}}};
    json sent = SendMsg(c, "alice", "bob", "hello bob", info);
    REQUIRE(Code(sent) == 0);
    auto got = vendors.WaitFor("apns", 1, [](const json& r) { return ApnsWith(r, "apns-bob-1", "hello bob"); });
    REQUIRE(got.size() == 1);
    const json& push = got[0];
    CHECK(push["body"]["aps"]["alert"]["title"] == "From Alice");
    CHECK(push["body"]["aps"]["alert"]["subtitle"] == "DM");
    CHECK(push["body"]["aps"]["sound"] == "ding.caf");
    CHECK(push["body"]["aps"]["badge"] == 1);
    CHECK(push["body"]["ext"] == "{\"chat\":\"alice\"}");
    CHECK(push["headers"]["apns-topic"] == "com.example.chat");
    CHECK(push["headers"]["apns-push-type"] == "alert");
    CHECK(push["headers"]["apns-priority"] == "10");
    CHECK(push["headers"]["apns-collapse-id"] == sent["MsgKey"]);

    // The badge is the unread count; PushFlag 1 pushes nothing.
    REQUIRE(Code(SendMsg(c, "alice", "bob", "quiet one", {{"PushFlag", 1}})) == 0);
    REQUIRE(Code(SendMsg(c, "alice", "bob", "third")) == 0);
    got = vendors.WaitFor("apns", 1, [](const json& r) { return ApnsWith(r, "apns-bob-1", "third"); });
    REQUIRE(got.size() == 1);
    CHECK(got[0]["body"]["aps"]["badge"] == 3);
    CHECK(got[0]["body"]["aps"]["alert"]["title"] == "alice");  // the sender by default
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    for (const auto& r : vendors.Of("apns", true)) CHECK(AlertBody(r) != "quiet one");
    CHECK(vendors.Of("apns").size() == 2);

    // Back in the foreground: online, no notification.
    REQUIRE(bob.Call("f", {{"appState", {{"background", false}}}}).contains("ack"));
    CHECK(WaitStatus(c, "bob", "Online") == "Online");
    REQUIRE(Code(SendMsg(c, "alice", "bob", "while open")) == 0);
    REQUIRE(Code(SendMsg(c, "alice", "carol", "marker")) == 0);
    REQUIRE(vendors.WaitFor("fcm", 1, [](const json& r) {
      return r["body"]["message"]["notification"]["body"] == "marker";
    }).size() == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (const auto& r : vendors.Of("apns", true)) CHECK(AlertBody(r) != "while open");

    // The callback reports each push.
    auto calls = hooks.WaitFor("Push.OfflinePush", 3);
    REQUIRE(calls.size() >= 3);
    bool reported = false;
    for (const auto& call : calls) {
      if (call.body["To_Account"] == "bob" && call.body["PushPlatform"] == "APNs" &&
          call.body["ErrCode"] == 0 && call.body["From_Account"] == "alice") {
        reported = true;
      }
    }
    CHECK(reported);
  }

  SECTION("do not disturb: a receive option per peer, and WithMuteNotifications") {
    // bob mutes alice's notifications (receive without notifying).
    json set = UserCall(bob, "set_c2c_receive_opt", {{"UserIDList", {"alice"}}, {"Opt", 2}},
                        "parley_push");
    REQUIRE(UserCode(set) == 0);
    json got = UserCall(bob, "get_c2c_receive_opt", {{"UserIDList", {"alice", "carol"}}}, "parley_push");
    REQUIRE(UserCode(got) == 0);
    CHECK(got["Options"] == json::array({{{"UserID", "alice"}, {"Opt", 2}}, {{"UserID", "carol"}, {"Opt", 0}}}));
    // Users set only their own; bad values change nothing.
    CHECK(UserCode(UserCall(bob, "set_c2c_receive_opt",
                            {{"From_Account", "carol"}, {"UserIDList", {"alice"}}, {"Opt", 2}},
                            "parley_push")) == 90009);
    CHECK(UserCode(UserCall(bob, "set_c2c_receive_opt", {{"UserIDList", {"alice"}}, {"Opt", 3}},
                            "parley_push")) == 90001);
    CHECK(UserCode(UserCall(bob, "set_c2c_receive_opt", {{"UserIDList", json::array()}, {"Opt", 1}},
                            "parley_push")) == 90001);
    json admin_view = PushApi(c, "get_c2c_receive_opt", {{"From_Account", "bob"}, {"UserIDList", {"alice"}}});
    REQUIRE(Code(admin_view) == 0);
    CHECK(admin_view["Options"][0]["Opt"] == 2);
    CHECK(Code(PushApi(c, "get_c2c_receive_opt", {{"UserIDList", {"alice"}}})) == 90001);

    // A client send honours it; so does a REST send with WithMuteNotifications;
    // a REST send without it does not (as Tencent).
    REQUIRE(ErrorCodeOf(alice.SendText("bob", "from alice's app")) == 0);
    json muted = {{"From_Account", "alice"}, {"To_Account", "bob"}, {"MsgRandom", 99},
                  {"MsgBody", Text("muted by control")},
                  {"SendMsgControl", {"WithMuteNotifications"}}};
    REQUIRE(Code(c.Rest("openim/sendmsg", muted.dump())) == 0);
    REQUIRE(Code(SendMsg(c, "alice", "bob", "from the backend")) == 0);
    REQUIRE(vendors.WaitFor("apns", 1, [](const json& r) { return AlertBody(r) == "from the backend"; }).size() == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(vendors.Of("apns").size() == 1);

    // Back to receive and notify: pushed again.
    REQUIRE(UserCode(UserCall(bob, "set_c2c_receive_opt", {{"UserIDList", {"alice"}}, {"Opt", 0}},
                              "parley_push")) == 0);
    REQUIRE(ErrorCodeOf(alice.SendText("bob", "notify me")) == 0);
    CHECK(vendors.WaitFor("apns", 1, [](const json& r) { return AlertBody(r) == "notify me"; }).size() == 1);
  }

  SECTION("FCM: an OAuth2 token from the service account, the notification and data") {
    REQUIRE(Code(SendMsg(c, "alice", "carol", "hi carol",
                         {{"Ext", "x1"}, {"AndroidInfo", {{"GoogleChannelID", "chat"}}}})) == 0);
    auto got = vendors.WaitFor("fcm", 1, [](const json& r) { return r["token"] == "fcm-carol-1"; });
    REQUIRE(got.size() == 1);
    const json& message = got[0]["body"]["message"];
    CHECK(message["notification"]["title"] == "alice");
    CHECK(message["notification"]["body"] == "hi carol");
    CHECK(message["data"]["ext"] == "x1");
    CHECK(message["android"]["notification"]["channel_id"] == "chat");
    CHECK(message["android"]["notification"]["notification_count"] == 1);
    CHECK(vendors.Of("fcm_token").size() == 1);  // one access token, reused
    REQUIRE(Code(SendMsg(c, "alice", "carol", "again")) == 0);
    REQUIRE(vendors.WaitFor("fcm", 2, [](const json& r) { return r["token"] == "fcm-carol-1"; }).size() == 2);
    CHECK(vendors.Of("fcm_token").size() == 1);
  }

  SECTION("a token the vendor calls invalid is forgotten") {
    vendors.Mode({{"invalid", {"fcm-carol-1"}}});
    REQUIRE(Code(SendMsg(c, "alice", "carol", "to a gone phone")) == 0);
    CHECK(WaitStatus(c, "carol", "Offline") == "Offline");
    auto refused = vendors.Of("fcm", true);
    REQUIRE(refused.size() == 1);
    CHECK(refused[0]["status"] == 404);
    // No device left: nothing more is sent.
    REQUIRE(Code(SendMsg(c, "alice", "carol", "nobody there")) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(vendors.Of("fcm", true).size() == 1);
  }

  SECTION("logging out and being kicked unregister the token") {
    REQUIRE(bob.Call("l", {{"logout", json::object()}}).contains("logoutAck"));
    CHECK(WaitStatus(c, "bob", "Offline") == "Offline");
    WsClient dave(c.http_port);
    RegisterDevice(dave, c, "dave", "iPhone", "APNs", "apns-dave-1");
    CHECK(WaitStatus(c, "dave", "PushOnline") == "PushOnline");
    REQUIRE(Code(c.Rest("im_open_login_svc/kick", json{{"UserID", "dave"}}.dump())) == 0);
    CHECK(WaitStatus(c, "dave", "Offline") == "Offline");
    REQUIRE(Code(SendMsg(c, "alice", "bob", "after logout")) == 0);
    REQUIRE(Code(SendMsg(c, "alice", "dave", "after kick")) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    CHECK(vendors.Of("apns", true).empty());
  }
}

TEST_CASE("offline push: a vendor answering 503 for a minute gets every notification afterwards",
          "[push][ws]") {
  PushVendors vendors;
  Env env = vendors.ClusterEnv();
  // Retries every 4 s at most, and enough of them for the minute (the
  // defaults, 1 s doubling to 5 min 18 times, give about an hour).
  env["PARLEY_PUSH_RETRY_MAX_MS"] = "4000";
  env["PARLEY_PUSH_MAX_ATTEMPTS"] = "40";
  TestCluster c(env);
  ImportAccounts(c, {"alice", "bob", "carol"});
  REQUIRE(Code(PushApi(c, "set_credential", vendors.Credential("APNs"))) == 0);
  REQUIRE(Code(PushApi(c, "set_credential", vendors.Credential("FCM"))) == 0);
  WsClient bob(c.http_port);
  RegisterDevice(bob, c, "bob", "iPhone", "APNs", "apns-bob-1");
  WsClient carol(c.http_port);
  RegisterDevice(carol, c, "carol", "Android", "FCM", "fcm-carol-1");

  auto outage_start = std::chrono::steady_clock::now();
  vendors.Mode({{"vendor", "apns"}, {"status", 503}, {"seconds", 60}});
  for (int i = 0; i < 3; ++i) {
    REQUIRE(Code(SendMsg(c, "alice", "bob", "during outage " + std::to_string(i))) == 0);
  }
  // FCM is not held up by APNs being down.
  REQUIRE(Code(SendMsg(c, "alice", "carol", "unaffected")) == 0);
  REQUIRE(vendors.WaitFor("fcm", 1, [](const json& r) { return r["token"] == "fcm-carol-1"; },
                          4000).size() == 1);
  // Halfway: refused and retried, nothing lost, nothing accepted.
  std::this_thread::sleep_for(std::chrono::seconds(30));
  CHECK(vendors.Of("apns").empty());
  CHECK(vendors.Of("apns", true).size() >= 3 * 4);
  REQUIRE(Code(SendMsg(c, "alice", "bob", "late in the outage")) == 0);
  auto got = vendors.WaitFor("apns", 4, [](const json& r) {
    return AlertBody(r).rfind("during outage", 0) == 0 || AlertBody(r) == "late in the outage";
  }, 50000);
  CHECK(got.size() == 4);
  CHECK(std::chrono::steady_clock::now() - outage_start >= std::chrono::seconds(59));
  // Once each: the refused attempts were retried, the accepted not again.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  std::map<std::string, int> count;
  for (const auto& r : vendors.Of("apns")) count[AlertBody(r)]++;
  for (int i = 0; i < 3; ++i) CHECK(count["during outage " + std::to_string(i)] == 1);
  CHECK(count["late in the outage"] == 1);
  CHECK(count.size() == 4);
}

TEST_CASE("offline push: APNs with a certificate credential, chosen by the business ID",
          "[push][ws]") {
  PushVendors vendors;
  TestCluster c(vendors.ClusterEnv());
  ImportAccounts(c, {"alice", "bob", "erin"});
  REQUIRE(Code(PushApi(c, "set_credential", vendors.Credential("APNs"))) == 0);
  REQUIRE(Code(PushApi(c, "set_credential", vendors.Credential("APNsCert"))) == 0);
  json listed = PushApi(c, "get_credentials", json::object());
  REQUIRE(listed["Credentials"].size() == 2);
  CHECK(listed["Credentials"][1]["BusinessId"] == 1);
  CHECK(listed["Credentials"][1]["Auth"] == "certificate");
  CHECK(listed.dump().find("CERTIFICATE") == std::string::npos);
  // bob's app was built with the certificate's business ID, erin's with the key's.
  WsClient bob(c.http_port);
  LoginOk(bob, c, "bob", "iPhone");
  REQUIRE(bob.Call("t", {{"pushToken", {{"channel", "APNs"}, {"token", "apns-bob-cert"},
                                        {"businessId", "1"}}}}).contains("ack"));
  REQUIRE(bob.Call("b", {{"appState", {{"background", true}}}}).contains("ack"));
  WsClient erin(c.http_port);
  RegisterDevice(erin, c, "erin", "iPhone", "APNs", "apns-erin-key");
  REQUIRE(Code(SendMsg(c, "alice", "bob", "by certificate")) == 0);
  REQUIRE(Code(SendMsg(c, "alice", "erin", "by key")) == 0);
  auto by_cert = vendors.WaitFor("apns", 1, [](const json& r) { return r["token"] == "apns-bob-cert"; });
  REQUIRE(by_cert.size() == 1);
  CHECK(AlertBody(by_cert[0]) == "by certificate");
  CHECK(!by_cert[0]["headers"].contains("authorization"));
  CHECK(by_cert[0]["headers"]["x-client-certificate"] == "Apple Push Services: com.example.chat");
  CHECK(by_cert[0]["headers"]["apns-topic"] == "com.example.chat");
  auto by_key = vendors.WaitFor("apns", 1, [](const json& r) { return r["token"] == "apns-erin-key"; });
  REQUIRE(by_key.size() == 1);
  CHECK(by_key[0]["headers"]["authorization"].get<std::string>().rfind("bearer ", 0) == 0);
  // Nothing refused: each went by its own credential.
  CHECK(vendors.Of("apns", true).size() == 2);
}

TEST_CASE("offline push: the Android vendors through their own APIs", "[push][ws]") {
  PushVendors vendors;
  TestCluster c(vendors.ClusterEnv());
  ImportAccounts(c, {"alice", "u1", "u2", "u3", "u4", "u5"});
  const std::vector<std::pair<std::string, std::string>> phones = {
      {"Huawei", "huawei"}, {"Honor", "honor"}, {"Xiaomi", "xiaomi"}, {"OPPO", "oppo"}, {"vivo", "vivo"}};
  std::vector<std::unique_ptr<WsClient>> sessions;
  for (size_t i = 0; i < phones.size(); ++i) {
    REQUIRE(Code(PushApi(c, "set_credential", vendors.Credential(phones[i].first))) == 0);
    sessions.push_back(std::make_unique<WsClient>(c.http_port));
    RegisterDevice(*sessions.back(), c, "u" + std::to_string(i + 1), "Android", phones[i].first,
                   phones[i].second + "-token");
  }
  for (size_t i = 0; i < phones.size(); ++i) {
    REQUIRE(Code(SendMsg(c, "alice", "u" + std::to_string(i + 1), "hi " + phones[i].second)) == 0);
  }
  for (const auto& [channel, vendor] : phones) {
    auto got = vendors.WaitFor(vendor, 1, [&](const json& r) { return r["token"] == vendor + "-token"; });
    INFO(channel);
    REQUIRE(got.size() == 1);
    CHECK(got[0]["body"].dump().find("hi " + vendor) != std::string::npos);
    // Each vendor's auth step ran once where it has one.
    if (vendor != "xiaomi") CHECK(vendors.Of(vendor + "_token").size() == 1);
  }
  // An invalid token is forgotten on every vendor.
  json invalid = json::array();
  for (const auto& [channel, vendor] : phones) invalid.push_back(vendor + "-token");
  vendors.Mode({{"invalid", invalid}});
  for (size_t i = 0; i < phones.size(); ++i) {
    REQUIRE(Code(SendMsg(c, "alice", "u" + std::to_string(i + 1), "gone")) == 0);
  }
  for (size_t i = 0; i < phones.size(); ++i) {
    INFO(phones[i].first);
    CHECK(WaitStatus(c, "u" + std::to_string(i + 1), "Online") == "Online");
  }
}

TEST_CASE("offline push: group messages reach members' devices page by page", "[push][ws]") {
  PushVendors vendors;
  Env env = vendors.ClusterEnv();
  env["PARLEY_PUSH_GROUP_PAGE_SIZE"] = "2";  // six members: three pages
  TestCluster c(env);
  ImportAccounts(c, {"alice", "bob", "carol", "dave", "m1", "m2"});
  REQUIRE(Code(PushApi(c, "set_credential", vendors.Credential("APNs"))) == 0);
  json members = json::array();
  for (const char* m : {"bob", "carol", "dave", "m1", "m2"}) members.push_back({{"Member_Account", m}});
  json created = Group(c, "create_group", {{"Owner_Account", "alice"}, {"Type", "Public"},
                                           {"Name", "Hikers"}, {"MemberList", members}});
  REQUIRE(Code(created) == 0);
  std::string group = created["GroupId"];
  // carol keeps the group's messages without notifications.
  REQUIRE(Code(Group(c, "modify_group_member_info", {{"GroupId", group}, {"Member_Account", "carol"},
                                                     {"MsgFlag", "AcceptNotNotify"}})) == 0);
  WsClient alice(c.http_port);
  LoginOk(alice, c, "alice", "Web");
  std::vector<std::unique_ptr<WsClient>> phones;
  for (const char* user : {"bob", "carol", "m1", "m2"}) {
    phones.push_back(std::make_unique<WsClient>(c.http_port));
    RegisterDevice(*phones.back(), c, user, "iPhone", "APNs", std::string("apns-") + user);
  }
  int random = 500;
  auto group_send = [&](const json& extra) {
    json body = {{"GroupId", group}, {"From_Account", "alice"}, {"Random", ++random}};
    body.update(extra);
    return Group(c, "send_group_msg", body);
  };

  // bob has a one-to-one message unread: his badge counts both.
  REQUIRE(Code(SendMsg(c, "alice", "bob", "dm first")) == 0);
  REQUIRE(vendors.WaitFor("apns", 1, [](const json& r) { return AlertBody(r) == "dm first"; }).size() == 1);
  REQUIRE(Code(group_send({{"MsgBody", Text("trail at 9")}})) == 0);
  auto got = vendors.WaitFor("apns", 3, [](const json& r) { return AlertBody(r) == "alice: trail at 9"; });
  REQUIRE(got.size() == 3);
  std::set<std::string> tokens;
  for (const auto& r : got) {
    tokens.insert(r["token"].get<std::string>());
    CHECK(r["body"]["aps"]["alert"]["title"] == "Hikers");
    if (r["token"] == "apns-bob") CHECK(r["body"]["aps"]["badge"] == 2);
    if (r["token"] == "apns-m1") CHECK(r["body"]["aps"]["badge"] == 1);
  }
  CHECK(tokens == std::set<std::string>{"apns-bob", "apns-m1", "apns-m2"});

  // A targeted message notifies its readers only; PushFlag 1 nobody.
  REQUIRE(Code(group_send({{"MsgBody", Text("just m1")}, {"To_Account", {"m1"}}})) == 0);
  REQUIRE(Code(group_send({{"MsgBody", Text("silent")}, {"OfflinePushInfo", {{"PushFlag", 1}}}})) == 0);
  // Group tips and system notifications raise no notification either.
  REQUIRE(Code(Group(c, "modify_group_base_info",
                     {{"GroupId", group}, {"Introduction", "a tip for everyone"}})) == 0);
  REQUIRE(Code(Group(c, "send_group_system_notification",
                     {{"GroupId", group}, {"Content", "a system notification"}})) == 0);
  REQUIRE(Code(group_send({{"MsgBody", Text("last")}, {"OfflinePushInfo", {{"Title", "Trip"}}}})) == 0);
  got = vendors.WaitFor("apns", 3, [](const json& r) { return AlertBody(r) == "alice: last"; });
  REQUIRE(got.size() == 3);
  CHECK(got[0]["body"]["aps"]["alert"]["title"] == "Trip");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  size_t just_m1 = 0;
  for (const auto& r : vendors.Of("apns", true)) {
    CHECK(AlertBody(r) != "alice: silent");
    CHECK(r["token"] != "apns-carol");
    if (AlertBody(r) == "alice: just m1") {
      ++just_m1;
      CHECK(r["token"] == "apns-m1");
    }
  }
  CHECK(just_m1 == 1);
  CHECK(vendors.Of("apns").size() == 1 + 3 + 1 + 3);
}

TEST_CASE("offline push: messages stored while the push service is down are pushed once it is back",
          "[push][ws]") {
  PushVendors vendors;
  Env env = vendors.ClusterEnv();
  // Deliveries push has not taken are handed off again after 2 s (30 s by
  // default), on the message service's next 5 s round.
  env["PARLEY_DELIVERY_OUTBOX_LEASE_MS"] = "2000";
  TestCluster c(env);
  ImportAccounts(c, {"alice", "bob"});
  REQUIRE(Code(PushApi(c, "set_credential", vendors.Credential("APNs"))) == 0);
  json created = Group(c, "create_group", {{"Owner_Account", "alice"}, {"Type", "Public"},
                                           {"Name", "Outage"},
                                           {"MemberList", {{{"Member_Account", "bob"}}}}});
  REQUIRE(Code(created) == 0);
  WsClient bob(c.http_port);
  RegisterDevice(bob, c, "bob", "iPhone", "APNs", "apns-bob");
  REQUIRE(Code(SendMsg(c, "alice", "bob", "before")) == 0);
  REQUIRE(vendors.WaitFor("apns", 1, [](const json& r) { return AlertBody(r) == "before"; }).size() == 1);

  // Push is gone for longer than the message service's in-memory retries:
  // the sends are stored and acknowledged, and their notifications wait.
  c.push.Stop(SIGKILL, std::chrono::milliseconds(5000));
  REQUIRE(Code(SendMsg(c, "alice", "bob", "while push was down")) == 0);
  REQUIRE(Code(Group(c, "send_group_msg", {{"GroupId", created["GroupId"]}, {"From_Account", "alice"},
                                          {"Random", 77}, {"MsgBody", Text("group, push down")}})) == 0);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  c.StartPush();
  for (const std::string text : {"while push was down", "alice: group, push down"}) {
    INFO(text);
    CHECK(vendors.WaitFor("apns", 1, [&](const json& r) { return AlertBody(r) == text; },
                          30000).size() >= 1);
  }
  // Rows push took leave the outbox: nothing is handed off again over two
  // more rounds (lease 2 s, rounds every 5 s). Each arrived once, or twice
  // at most: delivery is at least once, and a call push took but answered
  // too late for is retried.
  const char* redelivered = "parley_delivery_outbox_redelivered_total";
  std::this_thread::sleep_for(std::chrono::seconds(3));
  int64_t rows = MetricValue(c.message_metrics_port, redelivered);
  CHECK(rows >= 1);  // the one-to-one row at least: its retries end before push is back
  std::this_thread::sleep_for(std::chrono::seconds(11));
  CHECK(MetricValue(c.message_metrics_port, redelivered) == rows);
  std::map<std::string, int> count;
  for (const auto& r : vendors.Of("apns")) count[AlertBody(r)]++;
  CHECK(count["while push was down"] <= 2);
  CHECK(count["alice: group, push down"] <= 2);
  CHECK(count["before"] == 1);
}

namespace {

json AllMember(const TestCluster& c, const std::string& command, const json& body) {
  return c.Rest("all_member_push/" + command, body.dump());
}

// The next all-member push event the client gets, or nullopt.
std::optional<json> NextBroadcast(WsClient& ws, int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto e = ws.NextEvent(200);
    if (e && (*e)["kind"] == "KIND_BROADCAST") return e;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("all-member push to everyone and by tag and by attribute", "[push][ws]") {
  PushVendors vendors;
  WebhookReceiver hooks;
  Env env = vendors.ClusterEnv();
  env["PARLEY_CALLBACK_URL"] = hooks.url();
  env["PARLEY_PUSH_GROUP_PAGE_SIZE"] = "2";  // pages of two users
  env["PARLEY_PUSH_ALL_MEMBER_PER_DAY"] = "4";
  TestCluster c(env);
  ImportAccounts(c, {"on1", "off1", "later1"});
  REQUIRE(Code(PushApi(c, "set_credential", vendors.Credential("APNs"))) == 0);

  // Tags and attributes, with their limits and codes.
  REQUIRE(Code(AllMember(c, "im_add_tag", {{"UserTags", {{{"To_Account", "on1"}, {"Tags", {"vip"}}},
                                                         {{"To_Account", "off1"}, {"Tags", {"vip", "beta"}}},
                                                         {{"To_Account", "later1"}, {"Tags", {"beta", "x"}}}}}})) == 0);
  REQUIRE(Code(AllMember(c, "im_remove_tag", {{"UserTags", {{{"To_Account", "later1"}, {"Tags", {"x"}}}}}})) == 0);
  json tags = AllMember(c, "im_get_tag", {{"To_Account", {"off1", "later1"}}});
  REQUIRE(Code(tags) == 0);
  CHECK(tags["UserTags"][0]["Tags"] == json::array({"beta", "vip"}));
  CHECK(tags["UserTags"][1]["Tags"] == json::array({"beta"}));
  CHECK(Code(AllMember(c, "im_add_tag", {{"UserTags", {{{"To_Account", "on1"}, {"Tags", {""}}}}}})) == 90040);
  CHECK(Code(AllMember(c, "im_add_tag", {{"UserTags", {{{"To_Account", "on1"}, {"Tags", {std::string(51, 't')}}}}}})) == 90034);
  json eleven = json::array();
  for (int i = 0; i < 11; ++i) eleven.push_back("t" + std::to_string(i));
  CHECK(Code(AllMember(c, "im_add_tag", {{"UserTags", {{{"To_Account", "on1"}, {"Tags", eleven}}}}})) == 90032);
  json many = json::array();
  for (int i = 0; i < 101; ++i) many.push_back("u" + std::to_string(i));
  CHECK(Code(AllMember(c, "im_get_tag", {{"To_Account", many}})) == 90018);
  REQUIRE(Code(AllMember(c, "im_add_tag", {{"UserTags", {{{"To_Account", "zz"}, {"Tags", {"gone"}}}}}})) == 0);
  REQUIRE(Code(AllMember(c, "im_remove_all_tags", {{"To_Account", {"zz"}}})) == 0);
  CHECK(AllMember(c, "im_get_tag", {{"To_Account", {"zz"}}})["UserTags"][0]["Tags"].empty());

  CHECK(Code(AllMember(c, "im_set_attr", {{"UserAttrs", {{{"To_Account", "on1"}, {"Attrs", {{"city", "sz"}}}}}}})) == 90033);
  REQUIRE(Code(AllMember(c, "im_set_attr_name", {{"AttrNames", {{"0", "city"}, {"1", "sex"}}}})) == 0);
  CHECK(Code(AllMember(c, "im_set_attr_name", {{"AttrNames", {{"10", "age"}}}})) == 90033);
  json names = AllMember(c, "im_get_attr_name", json::object());
  CHECK(names["AttrNames"] == json({{"0", "city"}, {"1", "sex"}}));
  REQUIRE(Code(AllMember(c, "im_set_attr", {{"UserAttrs", {{{"To_Account", "on1"}, {"Attrs", {{"city", "sz"}, {"sex", "f"}}}},
                                                          {{"To_Account", "off1"}, {"Attrs", {{"city", "bj"}}}},
                                                          {{"To_Account", "later1"}, {"Attrs", {{"city", "sz"}}}}}}})) == 0);
  REQUIRE(Code(AllMember(c, "im_remove_attr", {{"UserAttrs", {{{"To_Account", "on1"}, {"Attrs", {"sex"}}}}}})) == 0);
  json attrs = AllMember(c, "im_get_attr", {{"To_Account", {"on1", "off1"}}});
  CHECK(attrs["UserAttrs"][0]["Attrs"] == json({{"city", "sz"}}));
  CHECK(attrs["UserAttrs"][1]["Attrs"] == json({{"city", "bj"}}));

  // Bad pushes: refused, nothing counted.
  json body = {{"From_Account", "on1"}, {"MsgRandom", 1}, {"MsgLifeTime", 3600},
               {"MsgBody", Text("hello all")}, {"OfflinePushInfo", {{"Title", "News"}}}};
  auto with = [&](json extra) {
    json b = body;
    b.update(extra);
    return b;
  };
  CHECK(Code(AllMember(c, "im_push", with({{"Condition", {{"TagsOr", {"vip"}}, {"AttrsOr", {{"city", "sz"}}}}}}))) == 90001);
  CHECK(Code(AllMember(c, "im_push", with({{"Condition", {{"TagsOr", {"vip", "vip"}}}}}))) == 90022);
  CHECK(Code(AllMember(c, "im_push", with({{"Condition", {{"TagsOr", eleven}}}}))) == 90032);
  CHECK(Code(AllMember(c, "im_push", with({{"Condition", {{"AttrsAnd", {{"age", "3"}}}}}}))) == 90033);
  CHECK(Code(AllMember(c, "im_push", with({{"MsgLifeTime", 604801}}))) == 90026);
  CHECK(Code(AllMember(c, "im_push", with({{"MsgBody", json::array()}}))) == 90002);

  // on1 online; off1's phone gone (PushOnline); later1 not logged in yet.
  WsClient on1(c.http_port);
  LoginOk(on1, c, "on1", "Web");
  {
    WsClient phone(c.http_port);
    RegisterDevice(phone, c, "off1", "iPhone", "APNs", "apns-off1", false);
  }
  REQUIRE(WaitStatus(c, "off1", "PushOnline") == "PushOnline");

  // Everyone: live to on1, a notification to off1, kept for later1.
  json first = AllMember(c, "im_push", body);
  REQUIRE(Code(first) == 0);
  std::string task = first["TaskId"];
  CHECK(task.size() == 32);
  // One a second.
  CHECK(Code(AllMember(c, "im_push", body)) == 90024);
  auto live = NextBroadcast(on1);
  REQUIRE(live);
  CHECK((*live)["broadcast"]["TaskId"] == task);
  CHECK((*live)["broadcast"]["MsgBody"][0]["MsgContent"]["Text"] == "hello all");
  auto pushed = vendors.WaitFor("apns", 1, [](const json& r) { return r["token"] == "apns-off1"; });
  REQUIRE(pushed.size() == 1);
  CHECK(pushed[0]["body"]["aps"]["alert"]["title"] == "News");
  CHECK(pushed[0]["body"]["aps"]["alert"]["body"] == "hello all");
  auto done = hooks.WaitFor("Push.AllMemberPush", 1);
  REQUIRE(done.size() == 1);
  CHECK(done[0].body["TaskId"] == task);
  CHECK(done[0].body["Users"].get<int>() >= 3);
  CHECK(done[0].body["OnlineUsers"].get<int>() >= 1);
  CHECK(done[0].body["PushedDevices"] == 1);

  // By tags (both vip and beta): off1 alone.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  REQUIRE(Code(AllMember(c, "im_push", with({{"MsgBody", Text("vip beta")},
                                             {"Condition", {{"TagsAnd", {"vip", "beta"}}}}}))) == 0);
  REQUIRE(vendors.WaitFor("apns", 1, [](const json& r) { return r["body"]["aps"]["alert"]["body"] == "vip beta"; }).size() == 1);
  // By attribute (city sz): on1 live, later1 at login.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  REQUIRE(Code(AllMember(c, "im_push", with({{"MsgBody", Text("sz only")}, {"OfflinePushInfo", {{"PushFlag", 1}}},
                                             {"Condition", {{"AttrsOr", {{"city", "sz"}}}}}}))) == 0);
  live = NextBroadcast(on1);
  REQUIRE(live);
  CHECK((*live)["broadcast"]["MsgBody"][0]["MsgContent"]["Text"] == "sz only");
  CHECK_FALSE(NextBroadcast(on1, 700));  // the tag push was not for on1

  // later1 logs in: the pushes for them within MsgLifeTime, once.
  WsClient later(c.http_port);
  LoginOk(later, c, "later1", "Android");
  std::vector<std::string> texts;
  while (auto e = NextBroadcast(later, 2000)) texts.push_back((*e)["broadcast"]["MsgBody"][0]["MsgContent"]["Text"]);
  CHECK(texts == std::vector<std::string>{"hello all", "sz only"});
  WsClient again(c.http_port);
  LoginOk(again, c, "later1", "Web");
  CHECK_FALSE(NextBroadcast(again, 1500));
  // on1 had them live: not again after a reconnect.
  WsClient on1_again(c.http_port);
  LoginOk(on1_again, c, "on1", "PC");
  CHECK_FALSE(NextBroadcast(on1_again, 1500));

  // The day's allowance (4 here) is used up by the next one after this.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  REQUIRE(Code(AllMember(c, "im_push", with({{"MsgLifeTime", 0}}))) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(Code(AllMember(c, "im_push", body)) == 90047);
}
