// Starts the real service binaries (auth, push, relationship, group, message, gateway) against the test
// PostgreSQL and Redis, with a fresh random SDKAppID and key, so tests don't
// see each other's data. Ports are picked free; processes stop on destruction.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/http_client.h"
#include "support/process.h"

namespace parley::testing {

// Path of a built binary, e.g. Binary("services/auth/parley-auth").
std::string Binary(const std::string& relative);
// A random SDKAppID in Tencent's range, unique enough for one test run.
uint64_t RandomSdkAppId();
std::string RandomKey();
int64_t NowSeconds();

using Env = std::map<std::string, std::string>;

class TestCluster {
 public:
  explicit TestCluster(std::map<std::string, std::string> extra_env = {});

  void StartAuth();
  void StartMessage();
  void StartPush();
  void StartRelationship();
  void StartGroup();
  void StartCallback();
  void StartGateway();
  // Another gateway instance on its own ports; returns its HTTP port.
  Process StartExtraGateway(int* http_port, const std::string& instance_id);
  // Another instance of a service ("message" starts parley-message): the
  // cluster's settings with `overrides` on top. Every *_ADDR override but
  // Redis's is a port it listens on; `health_var` names the one serving /healthz, whose
  // port *health_port gets. A port taken meanwhile is replaced by a free one.
  Process StartInstance(const std::string& service, const Env& overrides,
                        const std::string& health_var, int* health_port);
  // Waits until url on port answers 200; fails the test after `seconds`.
  // Returns false when the process exited because its port was taken.
  static bool WaitHealthy(int port, const std::string& path, Process& process, int seconds = 30);

  std::string Sig(const std::string& identifier, int64_t expire = 86400) const;
  // The /v4 target with URL parameters for `identifier` and `usersig`.
  std::string Target(const std::string& endpoint, const std::string& identifier,
                     const std::string& usersig) const;
  // POSTs `body` to /v4/<endpoint> as the app admin and parses the JSON answer.
  nlohmann::json Rest(const std::string& endpoint, const std::string& body) const;

  uint64_t sdkappid;
  std::string secret_key;
  std::string admin = "administrator";
  int http_port = 0;
  int gateway_grpc_port = 0;
  int auth_grpc_port = 0;
  int auth_metrics_port = 0;
  int message_metrics_port = 0;
  int push_metrics_port = 0;
  int relationship_metrics_port = 0;
  int group_metrics_port = 0;
  // A setting the services were started with, e.g. PARLEY_RELATIONSHIP_TARGET.
  std::string setting(const std::string& name) { return env_[name]; }
  // The port of an address setting ("127.0.0.1:<port>").
  int port(const std::string& name) { return std::stoi(env_[name].substr(env_[name].rfind(':') + 1)); }
  Process auth;
  Process push;
  Process message;
  Process relationship;
  Process group;
  Process callback;
  int callback_metrics_port = 0;
  Process gateway;

 private:
  // Starts a service; if another test took one of its ports meanwhile, picks
  // new ones (listen_vars, and the same port in dial_vars) and tries again.
  Process StartService(const std::string& binary, const std::string& name,
                       const std::vector<std::string>& listen_vars,
                       const std::vector<std::string>& dial_vars, const std::string& health_var,
                       int* health_port);

  std::map<std::string, std::string> env_;
  // How many times a service's dialled address moved (a port taken while
  // it started): services started before were given the old one.
  int moved_ = 0;
};

}  // namespace parley::testing
