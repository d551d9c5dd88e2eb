// Structured logging: one JSON object per line on stderr.
//
//   parley::log::Info("account_import", {{"sdkappid", 1400000000}, {"user", id}});
//   -> {"ts":"2026-11-22T03:18:36.123Z","level":"info","service":"auth",
//       "event":"account_import","sdkappid":1400000000,"user":"alice"}
//
// Secrets never reach logs: a field whose name contains "usersig", "secret",
// "token" or "password", is "key" or "sig", or ends in "_sig" is written as
// "[redacted]", whatever the caller passed. Thread-safe; Init() once from main() before logging.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace parley::log {

enum class Level { kDebug, kInfo, kWarn, kError };

using Fields = std::vector<std::pair<std::string, nlohmann::json>>;

// `level` is one of debug, info, warn, error (default info).
void Init(std::string_view service, std::string_view level);

void Write(Level level, std::string_view event, const Fields& fields);
inline void Debug(std::string_view event, const Fields& fields = {}) {
  Write(Level::kDebug, event, fields);
}
inline void Info(std::string_view event, const Fields& fields = {}) {
  Write(Level::kInfo, event, fields);
}
inline void Warn(std::string_view event, const Fields& fields = {}) {
  Write(Level::kWarn, event, fields);
}
inline void Error(std::string_view event, const Fields& fields = {}) {
  Write(Level::kError, event, fields);
}

// The line Write() would emit, without timestamp (for tests).
std::string FormatForTest(Level level, std::string_view event, const Fields& fields);

// True when a field of this name is always redacted.
bool IsSecretField(std::string_view name);

}  // namespace parley::log
