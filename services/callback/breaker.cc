#include "breaker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace parley::callback {

std::string CircuitBreakers::Key(uint64_t sdkappid, const std::string& url) {
  return absl::StrCat(sdkappid, " ", url);
}

CircuitBreakers::Decision CircuitBreakers::Allow(const std::string& key, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = states_.find(key);
  if (it == states_.end() || !it->second.open) return Decision::kAttempt;
  State& state = it->second;
  if (state.probing || now_ms < state.retry_at_ms) return Decision::kSkip;
  state.probing = true;
  return Decision::kProbe;
}

void CircuitBreakers::Record(const std::string& key, bool ok, int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (ok) {
    states_.erase(key);  // closed, and nothing to remember
    return;
  }
  State& state = states_[key];
  ++state.failures;
  if (state.open) {
    // A failed probe: wait longer before the next.
    state.probing = false;
    state.cooldown_ms = std::min<int64_t>(state.cooldown_ms * 2, options_.max_cooldown.count());
    state.retry_at_ms = now_ms + state.cooldown_ms;
    return;
  }
  if (state.failures >= options_.failures_to_open) {
    state.open = true;
    state.cooldown_ms = std::max<int64_t>(1, options_.cooldown.count());
    state.retry_at_ms = now_ms + state.cooldown_ms;
  }
}

bool CircuitBreakers::IsOpen(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = states_.find(key);
  return it != states_.end() && it->second.open;
}

}  // namespace parley::callback
