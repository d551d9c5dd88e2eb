// Steps many end-to-end tests share.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_cluster.h"
#include "support/ws_client.h"

namespace parley::testing {

// Imports accounts through REST multiaccount_import (fails the test if refused).
void ImportAccounts(const TestCluster& cluster, const std::vector<std::string>& users);

// Logs `client` in as `user`; fails the test unless the answer is a login_ack,
// which it returns.
nlohmann::json LoginOk(WsClient& client, const TestCluster& cluster, const std::string& user,
                       const std::string& platform = "Android",
                       std::optional<uint64_t> last_seq = {});

// alice and bob, each logged in from the Web on the cluster's gateway.
struct AliceAndBob {
  explicit AliceAndBob(const TestCluster& cluster);
  WsClient alice;
  WsClient bob;
};

// The value of metric `name` (its first series) on the /metrics page served
// at `port`, or -1 when the page does not list it.
int64_t MetricValue(int port, const std::string& name);

}  // namespace parley::testing
