#include "support/test_cluster.h"

#include <unistd.h>

#include <csignal>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parley/usersig/usersig.h"
#include "support/tls.h"

namespace parley::testing {

std::string LogPath(const std::string& name);

std::string Binary(const std::string& relative) {
  return std::string(PARLEY_BINARY_DIR) + "/" + relative;
}

uint64_t RandomSdkAppId() {
  static std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(getpid()));
  return 1400000000ULL + rng() % 100000000ULL;
}

std::string RandomKey() {
  static std::mt19937_64 rng(std::random_device{}());
  return absl::StrCat(absl::Hex(rng(), absl::kZeroPad16), absl::Hex(rng(), absl::kZeroPad16),
                      absl::Hex(rng(), absl::kZeroPad16), absl::Hex(rng(), absl::kZeroPad16));
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TestCluster::TestCluster(std::map<std::string, std::string> extra_env)
    : sdkappid(RandomSdkAppId()), secret_key(RandomKey()) {
  http_port = FreePort();
  gateway_grpc_port = FreePort();
  auth_grpc_port = FreePort();
  auth_metrics_port = FreePort();
  message_metrics_port = FreePort();
  push_metrics_port = FreePort();
  int message_grpc_port = FreePort();
  int push_grpc_port = FreePort();
  int relationship_grpc_port = FreePort();
  int callback_grpc_port = FreePort();
  callback_metrics_port = FreePort();
  relationship_metrics_port = FreePort();
  int group_grpc_port = FreePort();
  group_metrics_port = FreePort();
  env_ = {
      {"PARLEY_PG_URL", RequireEnv("PARLEY_TEST_PG_URL")},
      {"PARLEY_REDIS_ADDR", RequireEnv("PARLEY_TEST_REDIS_ADDR")},
      {"PARLEY_SDKAPPID", std::to_string(sdkappid)},
      {"PARLEY_SECRET_KEY", secret_key},
      {"PARLEY_ADMIN_ID", admin},
      {"PARLEY_AUTH_GRPC_ADDR", absl::StrCat("127.0.0.1:", auth_grpc_port)},
      {"PARLEY_AUTH_METRICS_ADDR", absl::StrCat("127.0.0.1:", auth_metrics_port)},
      {"PARLEY_AUTH_TARGET", absl::StrCat("127.0.0.1:", auth_grpc_port)},
      {"PARLEY_HTTP_ADDR", absl::StrCat("127.0.0.1:", http_port)},
      {"PARLEY_GATEWAY_GRPC_ADDR", absl::StrCat("127.0.0.1:", gateway_grpc_port)},
      {"PARLEY_DRAIN_MS", "200"},
      {"PARLEY_TLS_DIR", TlsDir()},
      {"PARLEY_MESSAGE_GRPC_ADDR", absl::StrCat("127.0.0.1:", message_grpc_port)},
      {"PARLEY_MESSAGE_METRICS_ADDR", absl::StrCat("127.0.0.1:", message_metrics_port)},
      {"PARLEY_MESSAGE_TARGET", absl::StrCat("127.0.0.1:", message_grpc_port)},
      {"PARLEY_PUSH_GRPC_ADDR", absl::StrCat("127.0.0.1:", push_grpc_port)},
      {"PARLEY_PUSH_METRICS_ADDR", absl::StrCat("127.0.0.1:", push_metrics_port)},
      {"PARLEY_PUSH_TARGET", absl::StrCat("127.0.0.1:", push_grpc_port)},
      // Test clusters share one Redis: each has its own offline push queue
      // (its vendor endpoints are its own).
      {"PARLEY_PUSH_QUEUE_PREFIX", absl::StrCat("parley:push:t", sdkappid)},
      {"PARLEY_GATEWAY_ID", absl::StrCat("gw-a-", sdkappid)},
      {"PARLEY_RELATIONSHIP_GRPC_ADDR", absl::StrCat("127.0.0.1:", relationship_grpc_port)},
      {"PARLEY_RELATIONSHIP_METRICS_ADDR", absl::StrCat("127.0.0.1:", relationship_metrics_port)},
      {"PARLEY_RELATIONSHIP_TARGET", absl::StrCat("127.0.0.1:", relationship_grpc_port)},
      {"PARLEY_GROUP_GRPC_ADDR", absl::StrCat("127.0.0.1:", group_grpc_port)},
      {"PARLEY_GROUP_METRICS_ADDR", absl::StrCat("127.0.0.1:", group_metrics_port)},
      {"PARLEY_GROUP_TARGET", absl::StrCat("127.0.0.1:", group_grpc_port)},
      {"PARLEY_CALLBACK_GRPC_ADDR", absl::StrCat("127.0.0.1:", callback_grpc_port)},
      {"PARLEY_CALLBACK_METRICS_ADDR", absl::StrCat("127.0.0.1:", callback_metrics_port)},
      {"PARLEY_CALLBACK_TARGET", absl::StrCat("127.0.0.1:", callback_grpc_port)},
      // Test clusters share one Redis: events another cluster's replica took
      // are retaken quickly when that cluster stops.
      {"PARLEY_CALLBACK_CLAIM_IDLE_MS", "3000"},
  };
  for (auto& [k, v] : extra_env) env_[k] = v;
  struct Step {
    Process* process;
    void (TestCluster::*start)();
  };
  const std::vector<Step> steps = {
      {&auth, &TestCluster::StartAuth},     {&push, &TestCluster::StartPush},
      {&callback, &TestCluster::StartCallback}, {&relationship, &TestCluster::StartRelationship},
      {&group, &TestCluster::StartGroup},   {&message, &TestCluster::StartMessage},
      {&gateway, &TestCluster::StartGateway}};
  for (size_t i = 0; i < steps.size(); ++i) {
    int before = moved_;
    (this->*steps[i].start)();
    // A service whose address moved was dialled at the old one by those
    // started before it (the group service sends tips to the message
    // service): they start again with the new one, until nothing moves.
    for (int pass = 0; moved_ != before && pass < 3; ++pass) {
      before = moved_;
      for (size_t j = 0; j < i; ++j) {
        steps[j].process->Stop(SIGTERM, std::chrono::milliseconds(5000));
        (this->*steps[j].start)();
      }
    }
  }
}

bool TestCluster::WaitHealthy(int port, const std::string& path, Process& process, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process.running()) {
      if (process.LogTail().find("already in use") != std::string::npos) return false;
      FAIL("process exited during start-up:\n" + process.LogTail());
    }
    try {
      // Answered, and by this process: another test's may hold the port.
      if (HttpGet(port, path).status == 200 && ListensOn(process.pid(), port)) return true;
    } catch (const std::exception&) {
      // not listening yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("not healthy in time:\n" + process.LogTail());
  return false;
}

Process TestCluster::StartService(const std::string& binary, const std::string& name,
                                  const std::vector<std::string>& listen_vars,
                                  const std::vector<std::string>& dial_vars,
                                  const std::string& health_var, int* health_port) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    Process process(Binary(binary), env_, LogPath(name));
    if (WaitHealthy(*health_port, "/healthz", process)) return process;
    // A port was taken between picking and binding: pick new ones.
    for (const auto& var : listen_vars) {
      std::string old_port = env_[var].substr(env_[var].rfind(':') + 1);
      std::string fresh = std::to_string(FreePort());
      env_[var] = "127.0.0.1:" + fresh;
      for (const auto& dial : dial_vars) {
        if (env_[dial] == "127.0.0.1:" + old_port) {
          env_[dial] = env_[var];
          ++moved_;
        }
      }
      if (var == health_var) *health_port = std::stoi(fresh);
    }
  }
  FAIL("could not start " + name);
  return Process();
}

std::string LogPath(const std::string& name) {
  std::string dir = std::string(PARLEY_BINARY_DIR) + "/test-logs";
  std::filesystem::create_directories(dir);
  return absl::StrCat(dir, "/", name, "-", getpid(), "-", RandomSdkAppId(), ".log");
}

void TestCluster::StartAuth() {
  auth = StartService("services/auth/parley-auth", "auth",
                      {"PARLEY_AUTH_GRPC_ADDR", "PARLEY_AUTH_METRICS_ADDR"}, {"PARLEY_AUTH_TARGET"},
                      "PARLEY_AUTH_METRICS_ADDR", &auth_metrics_port);
  auth_grpc_port = std::stoi(env_["PARLEY_AUTH_GRPC_ADDR"].substr(10));
}

void TestCluster::StartMessage() {
  message = StartService("services/message/parley-message", "message",
                         {"PARLEY_MESSAGE_GRPC_ADDR", "PARLEY_MESSAGE_METRICS_ADDR"},
                         {"PARLEY_MESSAGE_TARGET"}, "PARLEY_MESSAGE_METRICS_ADDR",
                         &message_metrics_port);
}

void TestCluster::StartPush() {
  push = StartService("services/push/parley-push", "push",
                      {"PARLEY_PUSH_GRPC_ADDR", "PARLEY_PUSH_METRICS_ADDR"}, {"PARLEY_PUSH_TARGET"},
                      "PARLEY_PUSH_METRICS_ADDR", &push_metrics_port);
}

void TestCluster::StartCallback() {
  callback = StartService("services/callback/parley-callback", "callback",
                          {"PARLEY_CALLBACK_GRPC_ADDR", "PARLEY_CALLBACK_METRICS_ADDR"},
                          {"PARLEY_CALLBACK_TARGET"}, "PARLEY_CALLBACK_METRICS_ADDR",
                          &callback_metrics_port);
}

void TestCluster::StartRelationship() {
  relationship = StartService(
      "services/relationship/parley-relationship", "relationship",
      {"PARLEY_RELATIONSHIP_GRPC_ADDR", "PARLEY_RELATIONSHIP_METRICS_ADDR"},
      {"PARLEY_RELATIONSHIP_TARGET"}, "PARLEY_RELATIONSHIP_METRICS_ADDR",
      &relationship_metrics_port);
}

void TestCluster::StartGroup() {
  group = StartService("services/group/parley-group", "group",
                       {"PARLEY_GROUP_GRPC_ADDR", "PARLEY_GROUP_METRICS_ADDR"},
                       {"PARLEY_GROUP_TARGET"}, "PARLEY_GROUP_METRICS_ADDR", &group_metrics_port);
}

Process TestCluster::StartExtraGateway(int* http_port, const std::string& instance_id) {
  // A second instance: its own ports and id, the same backends.
  return StartInstance("gateway",
                       {{"PARLEY_HTTP_ADDR", absl::StrCat("127.0.0.1:", FreePort())},
                        {"PARLEY_GATEWAY_GRPC_ADDR", absl::StrCat("127.0.0.1:", FreePort())},
                        {"PARLEY_GATEWAY_ID", instance_id}},
                       "PARLEY_HTTP_ADDR", http_port);
}

Process TestCluster::StartInstance(const std::string& service, const Env& overrides,
                                   const std::string& health_var, int* health_port) {
  auto main_env = env_;
  std::vector<std::string> listen_vars;
  for (const auto& [name, value] : overrides) {
    env_[name] = value;
    if (absl::EndsWith(name, "_ADDR") && name != "PARLEY_REDIS_ADDR") listen_vars.push_back(name);
  }
  *health_port = port(health_var);
  Process instance = StartService(absl::StrCat("services/", service, "/parley-", service),
                                  service + "-extra", listen_vars, {}, health_var, health_port);
  env_ = main_env;
  return instance;
}

void TestCluster::StartGateway() {
  gateway = StartService("services/gateway/parley-gateway", "gateway",
                         {"PARLEY_HTTP_ADDR", "PARLEY_GATEWAY_GRPC_ADDR"}, {}, "PARLEY_HTTP_ADDR",
                         &http_port);
  gateway_grpc_port = std::stoi(env_["PARLEY_GATEWAY_GRPC_ADDR"].substr(10));
}

std::string TestCluster::Sig(const std::string& identifier, int64_t expire) const {
  usersig::GenerateOptions options;
  options.expire = expire;
  return usersig::Generate(secret_key, sdkappid, identifier, NowSeconds(), options);
}

std::string TestCluster::Target(const std::string& endpoint, const std::string& identifier,
                                const std::string& usersig) const {
  return absl::StrCat("/v4/", endpoint, "?sdkappid=", sdkappid, "&identifier=", identifier,
                      "&usersig=", usersig, "&random=12345&contenttype=json");
}

nlohmann::json TestCluster::Rest(const std::string& endpoint, const std::string& body) const {
  HttpResponse response = HttpPost(http_port, Target(endpoint, admin, Sig(admin)), body);
  REQUIRE(response.status == 200);
  return nlohmann::json::parse(response.body);
}

}  // namespace parley::testing
