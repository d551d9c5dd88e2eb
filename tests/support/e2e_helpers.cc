#include "support/e2e_helpers.h"

#include <catch2/catch.hpp>

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

}  // namespace parley::testing
