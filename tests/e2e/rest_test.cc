// REST end to end: parley-auth + parley-gateway, real HTTP.
#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "parley/usersig/usersig.h"
#include "support/test_cluster.h"

using namespace parley::testing;
using nlohmann::json;

namespace {

json Post(const TestCluster& c, const std::string& target, const std::string& body) {
  HttpResponse response = HttpPost(c.http_port, target, body);
  REQUIRE(response.status == 200);
  INFO(response.body);
  return json::parse(response.body);
}

void CheckFail(const json& answer, int code) {
  INFO(answer.dump());
  CHECK(answer["ActionStatus"] == "FAIL");
  CHECK(answer["ErrorCode"] == code);
  CHECK_FALSE(answer["ErrorInfo"].get<std::string>().empty());
}

std::string AccountStatus(const TestCluster& c, const std::string& user) {
  json answer = c.Rest("im_open_login_svc/account_check",
                       json{{"CheckItem", {{{"UserID", user}}}}}.dump());
  return answer["ResultItem"][0]["AccountStatus"];
}

const std::string kImport = "im_open_login_svc/account_import";

}  // namespace

TEST_CASE("account endpoints answer with Tencent's shapes", "[rest]") {
  TestCluster c;
  json imported = c.Rest(kImport, R"({"UserID":"alice","Nick":"Alice","FaceUrl":"http://x/a.png"})");
  CHECK(imported == json{{"ActionStatus", "OK"}, {"ErrorInfo", ""}, {"ErrorCode", 0}});
  CHECK(c.Rest(kImport, R"({"Identifier":"legacy_user"})")["ErrorCode"] == 0);

  json multi = c.Rest("im_open_login_svc/multiaccount_import",
                      json{{"Accounts", {"bob", "carol", std::string(33, 'x')}}}.dump());
  CHECK(multi["ActionStatus"] == "OK");
  CHECK(multi["FailAccounts"] == json::array({std::string(33, 'x')}));

  json check = c.Rest("im_open_login_svc/account_check",
                      R"({"CheckItem":[{"UserID":"alice"},{"UserID":"legacy_user"},{"UserID":"nobody"}]})");
  CHECK(check["ActionStatus"] == "OK");
  CHECK(check["ResultItem"] ==
        json::parse(R"([{"UserID":"alice","ResultCode":0,"ResultInfo":"","AccountStatus":"Imported"},
          {"UserID":"legacy_user","ResultCode":0,"ResultInfo":"","AccountStatus":"Imported"},
          {"UserID":"nobody","ResultCode":0,"ResultInfo":"","AccountStatus":"NotImported"}])"));

  json deleted = c.Rest("im_open_login_svc/account_delete",
                        R"({"DeleteItem":[{"UserID":"alice"},{"UserID":"nobody"}]})");
  CHECK(deleted["ActionStatus"] == "OK");
  CHECK(deleted["ResultItem"][0] == json{{"ResultCode", 0}, {"ResultInfo", ""}, {"UserID", "alice"}});
  CHECK(deleted["ResultItem"][1]["ResultCode"] == 70107);
  CHECK(AccountStatus(c, "alice") == "NotImported");
  CHECK(AccountStatus(c, "bob") == "Imported");
}

TEST_CASE("URL parameter errors have their documented codes and change nothing", "[rest]") {
  TestCluster c;
  std::string sig = c.Sig(c.admin);
  std::string body = R"({"UserID":"mallory"})";
  std::string base = "/v4/" + kImport;
  auto with = [&](const std::string& query) { return Post(c, base + "?" + query, body); };
  std::string app = std::to_string(c.sdkappid);

  CheckFail(with("identifier=administrator&usersig=" + sig), 60012);
  CheckFail(with("sdkappid=abc&identifier=administrator&usersig=" + sig), 60006);
  CheckFail(with("sdkappid=99999999999&identifier=administrator&usersig=" + sig), 60006);
  CheckFail(with("sdkappid=" + std::to_string(RandomSdkAppId()) +
                 "&identifier=administrator&usersig=" + sig),
            70020);
  CheckFail(with("sdkappid=" + app + "&usersig=" + sig), 60025);
  CheckFail(with("sdkappid=" + app + "&identifier=administrator"), 70002);
  CheckFail(with("sdkappid=" + app + "&identifier=administrator&usersig=" + sig +
                 "&contenttype=xml"),
            60025);
  CheckFail(with("sdkappid=" + app + "&identifier=administrator&usersig=" + sig + "&random=abc"),
            60025);
  CHECK(with("sdkappid=" + app + "&identifier=administrator&usersig=" + sig)["ErrorCode"] == 0);
  c.Rest("im_open_login_svc/account_delete", R"({"DeleteItem":[{"UserID":"mallory"}]})");
  CHECK(AccountStatus(c, "mallory") == "NotImported");
}

TEST_CASE("UserSig errors: forged, expired, wrong app, wrong identifier, non-admin", "[rest]") {
  TestCluster c;
  std::string body = R"({"UserID":"mallory"})";
  auto as = [&](const std::string& identifier, const std::string& sig) {
    return Post(c, c.Target(kImport, identifier, sig), body);
  };
  int64_t now = NowSeconds();
  CheckFail(as(c.admin, "eJwrubbish"), 70003);
  CheckFail(as(c.admin, parley::usersig::Generate(c.secret_key, c.sdkappid, c.admin, now - 1000,
                                                  {.expire = 10})),
            70001);
  CheckFail(as(c.admin, parley::usersig::Generate(c.secret_key, c.sdkappid + 1, c.admin, now)),
            70014);
  CheckFail(as(c.admin, c.Sig("someone_else")), 70013);
  CheckFail(as(c.admin, parley::usersig::Generate(RandomKey(), c.sdkappid, c.admin, now)), 70009);
  CheckFail(as("alice", c.Sig("alice")), 60010);
  CHECK(AccountStatus(c, "mallory") == "NotImported");
}

TEST_CASE("body and path errors have their documented codes and change nothing", "[rest]") {
  TestCluster c(Env{{"PARLEY_HTTP_MAX_BODY_BYTES", "4096"}});
  std::string target = c.Target(kImport, c.admin, c.Sig(c.admin));
  CheckFail(Post(c, target, R"({"UserID":"mallory")"), 60003);
  CheckFail(Post(c, target, ""), 60003);
  CheckFail(Post(c, target, R"(["UserID","mallory"])"), 60003);
  CheckFail(Post(c, target, R"({"UserID":42})"), 70402);
  CheckFail(Post(c, target, R"({"UserID":"mallory","Nick":{"a":1}})"), 70402);
  CheckFail(Post(c, target, R"({"UserID":""})"), 70402);
  CheckFail(Post(c, c.Target("im_open_login_svc/no_such_command", c.admin, c.Sig(c.admin)), "{}"),
            60009);
  CheckFail(Post(c, c.Target("no_such_service/account_import", c.admin, c.Sig(c.admin)), "{}"),
            60009);
  CheckFail(Post(c, "/v4/im_open_login_svc", "{}"), 60009);
  HttpClient client(c.http_port);
  HttpResponse get = client.Send("GET", target, "");
  CHECK(json::parse(get.body)["ErrorCode"] == 60008);

  SECTION("an oversized body is answered with 93000, not a dropped connection") {
    std::string big = R"({"UserID":"mallory","Nick":")" + std::string(10000, 'n') + "\"}";
    HttpResponse response = HttpPost(c.http_port, target, big);
    CheckFail(json::parse(response.body), 93000);
  }
  SECTION("batches over 100 accounts are refused whole") {
    json many = json::object();
    for (int i = 0; i < 101; ++i) many["CheckItem"].push_back({{"UserID", "u" + std::to_string(i)}});
    CheckFail(c.Rest("im_open_login_svc/account_check", many.dump()), 70402);
    CheckFail(c.Rest("im_open_login_svc/account_delete", R"({"DeleteItem":[]})"), 70402);
  }
  CHECK(AccountStatus(c, "mallory") == "NotImported");
}

TEST_CASE("the reference test vectors over REST", "[rest]") {
  // The vectors' app: SDKAppID 1400000000, its key, and identifier "0" as admin.
  const std::string key = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
  TestCluster c(Env{{"PARLEY_SDKAPPID", "1400000000"},
                 {"PARLEY_SECRET_KEY", key},
                 {"PARLEY_ADMIN_ID", "0"}});
  c.sdkappid = 1400000000;
  c.secret_key = key;
  c.admin = "0";
  const std::string vector_sig =
      "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwjDB4pTsxIKCzBQlK0MTAyiAyKRWFGQWpQLFTU1NjeCiJZm5YDEzS0t"
      "DAyOYaHFmOtBM54KsUqeUwGLLqPK8UndHryCL-Lx8-1RPy7Ty1AijMk9f30hLk0x-r3CvSFulWgAPYy*9";
  // It decodes, names this app and identifier, and expired in 2020.
  CheckFail(Post(c, c.Target(kImport, "0", vector_sig), R"({"UserID":"v"})"), 70001);
  CheckFail(Post(c, c.Target(kImport, "1", vector_sig), R"({"UserID":"v"})"), 70013);
  // Fresh sigs with the vector key in every official layout are accepted.
  for (int level : {0, 6, 9}) {
    for (bool spaced : {false, true}) {
      std::string sig = parley::usersig::Generate(key, 1400000000, "0", NowSeconds(),
                                                  {.zlib_level = level, .spaced_json = spaced});
      CHECK(Post(c, c.Target(kImport, "0", sig), R"({"UserID":"v"})")["ErrorCode"] == 0);
    }
  }
}

TEST_CASE("keep-alive, health and metrics", "[rest]") {
  TestCluster c;
  HttpClient client(c.http_port);
  std::string target = c.Target(kImport, c.admin, c.Sig(c.admin));
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = client.Send("POST", target, R"({"UserID":"k)" + std::to_string(i) + "\"}");
    CHECK(json::parse(r.body)["ErrorCode"] == 0);
    CHECK(client.connection_open());
  }
  CHECK(HttpGet(c.http_port, "/healthz").status == 200);
  CHECK(HttpGet(c.http_port, "/nope").status == 404);
  std::string metrics = HttpGet(c.http_port, "/metrics").body;
  CHECK(metrics.find("parley_rest_requests_total{code=\"0\",endpoint=\"im_open_login_svc/"
                     "account_import\"} 5") != std::string::npos);
  std::string auth_metrics = HttpGet(c.auth_metrics_port, "/metrics").body;
  CHECK(auth_metrics.find("method=\"/parley.v1.AuthService/AccountImport\"") != std::string::npos);
  // Secrets never reach the logs.
  CHECK(c.gateway.LogTail(1 << 20).find(c.Sig(c.admin).substr(0, 20)) == std::string::npos);
  CHECK(c.auth.LogTail(1 << 20).find(c.secret_key) == std::string::npos);
}
