#include "support/e2e_helpers.h"

#include <catch2/catch.hpp>

#include <atomic>

#include "support/http_client.h"

namespace parley::testing {

void ImportAccounts(const TestCluster& cluster, const std::vector<std::string>& users) {
  nlohmann::json body = {{"Accounts", users}};
  nlohmann::json answer = cluster.Rest("im_open_login_svc/multiaccount_import", body.dump());
  INFO(answer.dump());
  REQUIRE(answer["ErrorCode"] == 0);
}

nlohmann::json LoginOk(WsClient& client, const TestCluster& cluster, const std::string& user,
                       const std::string& platform, std::optional<uint64_t> last_seq) {
  nlohmann::json answer = client.Login(cluster.sdkappid, user, cluster.Sig(user), platform, last_seq);
  INFO(answer.dump());
  REQUIRE(answer.contains("loginAck"));
  return answer["loginAck"];
}

AliceAndBob::AliceAndBob(const TestCluster& cluster)
    : alice(cluster.http_port), bob(cluster.http_port) {
  LoginOk(alice, cluster, "alice", "Web");
  LoginOk(bob, cluster, "bob", "Web");
}

int64_t MetricValue(int port, const std::string& name) {
  std::string page = "\n" + HttpGet(port, "/metrics").body;
  for (const char* follows : {" ", "{"}) {
    size_t at = page.find("\n" + name + follows);
    if (at == std::string::npos) continue;
    size_t line_end = page.find('\n', at + 1);
    std::string line = page.substr(at + 1, line_end == std::string::npos ? line_end : line_end - at - 1);
    return std::stoll(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

nlohmann::json UserCall(WsClient& client, const std::string& command, const nlohmann::json& body,
                        const std::string& service) {
  static std::atomic<int> next_id{0};
  std::string id = "u" + std::to_string(++next_id);
  nlohmann::json answer =
      client.Call(id, {{"api", {{"service", service}, {"command", command}, {"body", body}}}});
  INFO(command << " " << body.dump() << " -> " << answer.dump());
  if (answer.contains("error")) return {{"errorCode", answer["error"].value("errorCode", -1)}};
  REQUIRE(answer.contains("apiResult"));
  return answer["apiResult"].value("body", nlohmann::json::object());
}

int UserCode(const nlohmann::json& answer) { return answer.value("errorCode", 0); }

nlohmann::json Group(const TestCluster& cluster, const std::string& command,
                     const nlohmann::json& body) {
  nlohmann::json answer = cluster.Rest("group_open_http_svc/" + command, body.dump());
  UNSCOPED_INFO(command << " " << body.dump() << " -> " << answer.dump());
  return answer;
}

int Code(const nlohmann::json& answer) { return answer.value("ErrorCode", -1); }

}  // namespace parley::testing
