#include "parley/config/config.h"

#include <catch2/catch.hpp>
#include <map>

namespace {
struct Fixture {
  std::string addr = "127.0.0.1:1";
  int64_t size = 4;
  bool verbose = false;
  parley::config::Config config{"prog", "test"};
  std::map<std::string, std::string> env;
  Fixture() {
    config.Add("addr", "PARLEY_ADDR", &addr, "listen address");
    config.Add("size", "PARLEY_SIZE", &size, "pool size");
    config.Add("verbose", "PARLEY_VERBOSE", &verbose, "more logs");
  }
  absl::Status Parse(std::vector<const char*> argv) {
    argv.insert(argv.begin(), "prog");
    return config.ParseWithEnv(static_cast<int>(argv.size()), argv.data(), [this](const char* n) {
      auto it = env.find(n);
      return it == env.end() ? nullptr : it->second.c_str();
    });
  }
};
}  // namespace

TEST_CASE("defaults hold when nothing is set", "[config]") {
  Fixture f;
  REQUIRE(f.Parse({}).ok());
  CHECK(f.addr == "127.0.0.1:1");
  CHECK(f.size == 4);
  CHECK_FALSE(f.verbose);
}

TEST_CASE("flags beat environment, environment beats defaults", "[config]") {
  Fixture f;
  f.env = {{"PARLEY_ADDR", "0.0.0.0:2"}, {"PARLEY_SIZE", "8"}};
  REQUIRE(f.Parse({"--size=16", "--verbose", "run"}).ok());
  CHECK(f.addr == "0.0.0.0:2");
  CHECK(f.size == 16);
  CHECK(f.verbose);
  CHECK(f.config.positional() == std::vector<std::string>{"run"});
}

TEST_CASE("bad values and unknown flags are errors that name the setting", "[config]") {
  Fixture f;
  f.env = {{"PARLEY_SIZE", "many"}};
  auto st = f.Parse({});
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(st.message()).find("PARLEY_SIZE") != std::string::npos);
  Fixture g;
  CHECK(std::string(g.Parse({"--nope=1"}).message()).find("--nope") != std::string::npos);
  Fixture h;
  CHECK_FALSE(h.Parse({"--size"}).ok());
}

TEST_CASE("usage lists every setting with its variable and default", "[config]") {
  Fixture f;
  REQUIRE(f.Parse({"--help"}).ok());
  CHECK(f.config.help_requested());
  std::string usage = f.config.Usage();
  CHECK(usage.find("--addr  (PARLEY_ADDR, default \"127.0.0.1:1\")") != std::string::npos);
  CHECK(usage.find("PARLEY_VERBOSE") != std::string::npos);
}
