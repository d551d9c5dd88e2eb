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

// POSTs a group_open_http_svc command as the app admin; the parsed answer
// (logged with the request when a check fails).
nlohmann::json Group(const TestCluster& cluster, const std::string& command,
                     const nlohmann::json& body);
// The ErrorCode of a REST answer (-1 when it has none).
int Code(const nlohmann::json& answer);

// Calls a REST command as the logged-in user over the client protocol's api
// frame; returns the answer's body, or {"errorCode": N} for an error frame.
nlohmann::json UserCall(WsClient& client, const std::string& command, const nlohmann::json& body,
                        const std::string& service = "group_open_http_svc");
// The error code of a UserCall answer (0 for success).
int UserCode(const nlohmann::json& answer);

// The value of metric `name` (its first series) on the /metrics page served
// at `port`, or -1 when the page does not list it.
int64_t MetricValue(int port, const std::string& name);

}  // namespace parley::testing
