// Settings for a Parley binary.
//
// Each setting has a flag (--name=value), an environment variable
// (PARLEY_*) and a documented default. Precedence: flag, then environment,
// then default. `--help` prints every setting with its variable and default.
//
//   parley::config::Config config("parley-auth", "Apps, UserSig and accounts.");
//   std::string addr = "127.0.0.1:7051";
//   config.Add("grpc-addr", "PARLEY_AUTH_GRPC_ADDR", &addr, "gRPC listen address");
//   if (auto st = config.Parse(argc, argv); !st.ok()) ...
//
// Not thread-safe; use from main() before starting threads.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace parley::config {

class Config {
 public:
  Config(std::string program, std::string summary);

  // Registers a setting; `target` holds the default and receives the value.
  void Add(std::string flag, std::string env, std::string* target, std::string help);
  void Add(std::string flag, std::string env, int64_t* target, std::string help);
  void Add(std::string flag, std::string env, int* target, std::string help);
  void Add(std::string flag, std::string env, bool* target, std::string help);

  // Reads the environment, then argv. InvalidArgument names the bad setting.
  // Sets help_requested() on --help instead of failing.
  absl::Status Parse(int argc, const char* const* argv);
  absl::Status ParseWithEnv(int argc, const char* const* argv,
                            const std::function<const char*(const char*)>& getenv);

  // For main(): parses the environment and argv. Returns an exit code when the
  // program should stop (0 after printing --help, 2 after printing an error
  // and the usage), std::nullopt to go on.
  std::optional<int> ParseForMain(int argc, const char* const* argv);

  bool help_requested() const { return help_requested_; }
  std::string Usage() const;
  // Arguments that are not --flags, in order (subcommands for tools).
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  struct Setting {
    std::string flag;
    std::string env;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    std::function<bool(const std::string&)> assign;
  };
  void AddSetting(Setting setting);
  absl::Status Assign(const Setting& setting, const std::string& value, const std::string& source);

  std::string program_;
  std::string summary_;
  std::vector<Setting> settings_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

}  // namespace parley::config
