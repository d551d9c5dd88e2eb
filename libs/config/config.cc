#include "parley/config/config.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace parley::config {

Config::Config(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void Config::AddSetting(Setting setting) { settings_.push_back(std::move(setting)); }

void Config::Add(std::string flag, std::string env, std::string* target, std::string help) {
  AddSetting({std::move(flag), std::move(env), std::move(help), *target, false,
              [target](const std::string& v) {
                *target = v;
                return true;
              }});
}

void Config::Add(std::string flag, std::string env, int64_t* target, std::string help) {
  AddSetting({std::move(flag), std::move(env), std::move(help), std::to_string(*target), false,
              [target](const std::string& v) { return absl::SimpleAtoi(v, target); }});
}

void Config::Add(std::string flag, std::string env, int* target, std::string help) {
  AddSetting({std::move(flag), std::move(env), std::move(help), std::to_string(*target), false,
              [target](const std::string& v) { return absl::SimpleAtoi(v, target); }});
}

void Config::Add(std::string flag, std::string env, bool* target, std::string help) {
  AddSetting({std::move(flag), std::move(env), std::move(help), *target ? "true" : "false", true,
              [target](const std::string& v) { return absl::SimpleAtob(v, target); }});
}

absl::Status Config::Assign(const Setting& setting, const std::string& value,
                            const std::string& source) {
  if (setting.assign(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value for ", source, ": '", value, "' (", setting.help, ")"));
}

absl::Status Config::Parse(int argc, const char* const* argv) {
  return ParseWithEnv(argc, argv, [](const char* name) { return std::getenv(name); });
}

absl::Status Config::ParseWithEnv(int argc, const char* const* argv,
                                  const std::function<const char*(const char*)>& getenv) {
  for (const Setting& setting : settings_) {
    if (const char* value = getenv(setting.env.c_str()); value != nullptr) {
      if (auto st = Assign(setting, value, setting.env); !st.ok()) return st;
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Setting* found = nullptr;
    for (const Setting& setting : settings_) {
      if (setting.flag == name) found = &setting;
    }
    if (found == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (!has_value) {
      if (found->is_bool) {
        value = "true";  // a bare boolean flag turns it on
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
    }
    if (auto st = Assign(*found, value, "--" + name); !st.ok()) return st;
  }
  return absl::OkStatus();
}

std::optional<int> Config::ParseForMain(int argc, const char* const* argv) {
  if (auto st = Parse(argc, argv); !st.ok()) {
    std::cerr << st.message() << "\n\n" << Usage();
    return 2;
  }
  if (help_requested_) {
    std::cout << Usage();
    return 0;
  }
  return std::nullopt;
}

std::string Config::Usage() const {
  std::string out = absl::StrCat(program_, ": ", summary_, "\n\nSettings (flag, environment, default):\n");
  for (const Setting& s : settings_) {
    absl::StrAppend(&out, "  --", s.flag, "  (", s.env, ", default \"", s.default_text, "\")\n      ",
                    s.help, "\n");
  }
  return out;
}

}  // namespace parley::config
