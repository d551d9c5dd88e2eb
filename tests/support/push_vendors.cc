#include "support/push_vendors.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "support/http_client.h"

namespace parley::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void Run(const std::string& command) { REQUIRE(std::system(command.c_str()) == 0); }

}  // namespace

PushVendors::PushVendors() {
  dir = absl::StrCat(PARLEY_BINARY_DIR, "/test-logs/push-vendors-", RandomSdkAppId());
  Run("mkdir -p " + dir);
  // The APNs .p8 key (P-256) and the FCM service account's RSA key.
  Run(absl::StrCat("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ", dir,
                   "/apns.p8 2>/dev/null"));
  Run(absl::StrCat("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ", dir,
                   "/fcm.pem 2>/dev/null"));
  nlohmann::json config = {
      {"apns", {{"key_file", dir + "/apns.p8"}, {"key_id", "KEY0000001"},
                {"team_id", "TEAM000001"}, {"topic", "com.example.chat"}}},
      {"fcm", {{"key_file", dir + "/fcm.pem"}, {"project_id", "parley-test"},
               {"client_email", "push@parley-test.iam.gserviceaccount.com"}}},
      {"huawei", {{"app_id", "10001"}, {"secret", "hw-secret"}}},
      {"honor", {{"app_id", "20002"}, {"secret", "honor-secret"}}},
      {"xiaomi", {{"secret", "mi-secret"}, {"package", "com.example.chat"}}},
      {"oppo", {{"app_key", "oppo-key"}, {"master_secret", "oppo-master"}}},
      {"vivo", {{"app_id", "30003"}, {"app_key", "vivo-key"}, {"app_secret", "vivo-secret"}}}};
  std::ofstream(dir + "/config.json") << config.dump();
  process_ = Process("/usr/bin/python3", {}, dir + "/standin.log",
                     {std::string(PARLEY_SOURCE_DIR) + "/tests/fakes/push_vendors.py", "--config",
                      dir + "/config.json", "--out", dir});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string ports = ReadFile(dir + "/ports.json");
    if (!ports.empty()) {
      auto parsed = nlohmann::json::parse(ports);
      h2_port = parsed["h2"];
      h1_port = parsed["h1"];
      control_port = parsed["control"];
      return;
    }
    REQUIRE(process_.running());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("the push vendor stand-ins did not start: " << process_.LogTail());
}

Env PushVendors::ClusterEnv() const {
  std::string h2 = absl::StrCat("https://127.0.0.1:", h2_port);
  std::string h1 = absl::StrCat("https://127.0.0.1:", h1_port);
  return {{"PARLEY_PUSH_VENDOR_URLS",
           absl::StrCat("apns=", h2, ",apns_sandbox=", h2, ",fcm=", h2, ",huawei_auth=", h1,
                        "/oauth2/v3/token,huawei=", h1, ",honor_auth=", h1, "/auth/token,honor=",
                        h1, ",xiaomi=", h1, ",oppo=", h1, ",vivo=", h1)},
          {"PARLEY_PUSH_VENDOR_CA_FILE", dir + "/ca.crt"},
          {"PARLEY_PUSH_RETRY_BASE_MS", "200"},
          {"PARLEY_PUSH_RETRY_MAX_MS", "2000"}};
}

nlohmann::json PushVendors::Credential(const std::string& channel) const {
  if (channel == "APNs") {
    return {{"Channel", "APNs"}, {"BusinessId", 0}, {"Environment", "sandbox"},
            {"KeyId", "KEY0000001"}, {"TeamId", "TEAM000001"}, {"BundleId", "com.example.chat"},
            {"PrivateKey", ReadFile(dir + "/apns.p8")}};
  }
  if (channel == "APNsCert") {  // certificate authentication, business ID 1
    return {{"Channel", "APNs"}, {"BusinessId", 1}, {"Environment", "sandbox"},
            {"BundleId", "com.example.chat"}, {"Certificate", ReadFile(dir + "/apns_client.crt")},
            {"PrivateKey", ReadFile(dir + "/apns_client.key")}};
  }
  if (channel == "FCM") {
    nlohmann::json account = {{"type", "service_account"},
                              {"project_id", "parley-test"},
                              {"private_key_id", "k1"},
                              {"private_key", ReadFile(dir + "/fcm.pem")},
                              {"client_email", "push@parley-test.iam.gserviceaccount.com"},
                              {"token_uri", absl::StrCat("https://127.0.0.1:", h1_port, "/token")}};
    return {{"Channel", "FCM"}, {"BusinessId", 0}, {"ServiceAccount", account.dump()}};
  }
  if (channel == "Huawei") return {{"Channel", "Huawei"}, {"AppId", "10001"}, {"AppSecret", "hw-secret"}};
  if (channel == "Honor") return {{"Channel", "Honor"}, {"AppId", "20002"}, {"AppSecret", "honor-secret"}};
  if (channel == "Xiaomi") {
    return {{"Channel", "Xiaomi"}, {"AppSecret", "mi-secret"}, {"PackageName", "com.example.chat"}};
  }
  if (channel == "OPPO") return {{"Channel", "OPPO"}, {"AppKey", "oppo-key"}, {"AppSecret", "oppo-master"}};
  return {{"Channel", "vivo"}, {"AppId", "30003"}, {"AppKey", "vivo-key"}, {"AppSecret", "vivo-secret"}};
}

nlohmann::json PushVendors::Received() const {
  auto response = HttpGet(control_port, "/received");
  REQUIRE(response.status == 200);
  return nlohmann::json::parse(response.body);
}

std::vector<nlohmann::json> PushVendors::Of(const std::string& vendor, bool all) const {
  std::vector<nlohmann::json> out;
  for (const auto& r : Received()) {
    if (r["vendor"] == vendor && (all || r["accepted"].get<bool>())) out.push_back(r);
  }
  return out;
}

std::vector<nlohmann::json> PushVendors::WaitFor(
    const std::string& vendor, size_t n, const std::function<bool(const nlohmann::json&)>& match,
    int timeout_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<nlohmann::json> out;
  while (true) {
    out.clear();
    for (const auto& r : Of(vendor)) {
      if (match(r)) out.push_back(r);
    }
    if (out.size() >= n || std::chrono::steady_clock::now() > deadline) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void PushVendors::Mode(const nlohmann::json& mode) const {
  REQUIRE(HttpPost(control_port, "/mode", mode.dump()).status == 200);
}

}  // namespace parley::testing
