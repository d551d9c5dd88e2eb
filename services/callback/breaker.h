// Circuit breakers for callback endpoints, one per (app, URL).
//
// A backend that refuses, times out or answers garbage `failures_to_open`
// times in a row opens its breaker. While open, callers skip the network:
// before-callbacks apply the app's failure policy at once and after-events
// are parked (after_queue.h). Once `cooldown` has passed, one caller gets to
// probe; a success closes the breaker, a failure keeps it open for twice as
// long (up to `max_cooldown`). Pure logic with the clock passed in;
// thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley::callback {

struct BreakerOptions {
  int failures_to_open = 5;
  std::chrono::milliseconds cooldown{1000};
  std::chrono::milliseconds max_cooldown{30000};
};

class CircuitBreakers {
 public:
  enum class Decision {
    kAttempt,  // closed: go ahead
    kProbe,    // open, cooldown over: this caller is the one probe
    kSkip,     // open: don't touch the network
  };

  explicit CircuitBreakers(BreakerOptions options = {}) : options_(options) {}

  Decision Allow(const std::string& key, int64_t now_ms);
  // The outcome of an attempt or probe that Allow() let through.
  void Record(const std::string& key, bool ok, int64_t now_ms);
  bool IsOpen(const std::string& key);

  // "<sdkappid> <url>"
  static std::string Key(uint64_t sdkappid, const std::string& url);

 private:
  struct State {
    int failures = 0;
    bool open = false;
    bool probing = false;
    int64_t retry_at_ms = 0;
    int64_t cooldown_ms = 0;
  };

  BreakerOptions options_;
  std::mutex mu_;
  // Bounded by the apps' URLs: closed breakers with no failures are erased.
  std::unordered_map<std::string, State> states_;
};

}  // namespace parley::callback
