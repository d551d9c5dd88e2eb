// The push vendors' stand-ins (tests/fakes/push_vendors.py) for a test: keys
// and credentials made for the run, the process, and what it received.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/test_cluster.h"

namespace parley::testing {

class PushVendors {
 public:
  PushVendors();
  // Settings for a TestCluster whose push service should push here (fast
  // retries: 200 ms doubling to 2 s).
  Env ClusterEnv() const;
  // parley_push/set_credential bodies for each channel.
  nlohmann::json Credential(const std::string& channel) const;

  // Every request the stand-ins got, oldest first.
  nlohmann::json Received() const;
  // Requests of `vendor` ("apns", "fcm", "huawei", ...), accepted ones only
  // unless `all`.
  std::vector<nlohmann::json> Of(const std::string& vendor, bool all = false) const;
  // Waits until `n` accepted requests of `vendor` satisfy `match`.
  std::vector<nlohmann::json> WaitFor(const std::string& vendor, size_t n,
                                      const std::function<bool(const nlohmann::json&)>& match,
                                      int timeout_ms = 15000) const;
  // {"vendor":..., "status":503, "seconds":N} or {"invalid": [tokens]}.
  void Mode(const nlohmann::json& mode) const;

  std::string dir;
  int h2_port = 0;
  int h1_port = 0;
  int control_port = 0;

 private:
  Process process_;
};

}  // namespace parley::testing
