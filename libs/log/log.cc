#include "parley/log/log.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace parley::log {
namespace {

std::string g_service = "parley";
std::atomic<Level> g_min_level{Level::kInfo};
std::shared_ptr<spdlog::logger> g_logger;
std::once_flag g_logger_once;

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

spdlog::logger& Logger() {
  std::call_once(g_logger_once, [] {
    // The JSON line is the whole message: spdlog only serialises writes.
    g_logger = spdlog::stderr_logger_mt("parley");
    g_logger->set_pattern("%v");
    g_logger->flush_on(spdlog::level::info);
  });
  return *g_logger;
}

// Ordered, so every line reads ts, level, service, event, then the fields.
nlohmann::ordered_json Build(Level level, std::string_view event, const Fields& fields,
                             const std::string& ts = "") {
  nlohmann::ordered_json line = nlohmann::ordered_json::object();
  if (!ts.empty()) line["ts"] = ts;
  line["level"] = LevelName(level);
  line["service"] = g_service;
  line["event"] = event;
  for (const auto& [name, value] : fields) {
    line[name] = IsSecretField(name) ? nlohmann::ordered_json("[redacted]")
                                     : nlohmann::ordered_json(value);
  }
  return line;
}

}  // namespace

bool IsSecretField(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  constexpr std::array kMarkers = {"usersig", "secret", "token", "password"};
  for (const char* marker : kMarkers) {
    if (lower.find(marker) != std::string::npos) return true;
  }
  auto ends_with = [&](std::string_view suffix) {
    return lower.size() >= suffix.size() &&
           lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return lower == "key" || lower == "sig" || ends_with("_sig");
}

void Init(std::string_view service, std::string_view level) {
  g_service = std::string(service);
  Level parsed = Level::kInfo;
  if (level == "debug") parsed = Level::kDebug;
  if (level == "warn") parsed = Level::kWarn;
  if (level == "error") parsed = Level::kError;
  g_min_level = parsed;
  Logger();
}

void Write(Level level, std::string_view event, const Fields& fields) {
  if (level < g_min_level.load()) return;
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[40];
  std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis.count()));
  // error_handler_t::replace: bytes that are not UTF-8 never throw.
  Logger().info(Build(level, event, fields, ts)
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string FormatForTest(Level level, std::string_view event, const Fields& fields) {
  return Build(level, event, fields).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace parley::log
