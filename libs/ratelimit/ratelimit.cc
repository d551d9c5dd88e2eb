#include "parley/ratelimit/ratelimit.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"

namespace parley::ratelimit {
namespace {

// Grants up to ARGV[2] of this second's ARGV[1]; returns {granted, total
// granted this second}. KEYS[1] expires after two seconds.
constexpr char kReserveScript[] = R"lua(
local before = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - before)
if grant < 0 then grant = 0 end
local total = before
if grant > 0 then total = redis.call('INCRBY', KEYS[1], grant) end
redis.call('EXPIRE', KEYS[1], 2)
return {grant, total}
)lua";

int64_t SystemMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SharedLimiter::SharedLimiter(redis::Pool* redis, std::string prefix, Clock now_ms)
    : redis_(redis), prefix_(std::move(prefix)), now_ms_(now_ms ? std::move(now_ms) : SystemMillis) {}

SharedLimiter::Result SharedLimiter::Acquire(const std::string& key, int64_t limit) {
  int64_t second = now_ms_() / 1000;
  std::unique_lock lock(mu_);
  if (second != pruned_second_) {
    // Buckets of earlier seconds hold nothing worth keeping.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      it = it->second.second < second ? buckets_.erase(it) : std::next(it);
    }
    pruned_second_ = second;
  }
  Bucket* bucket = &buckets_[key];
  if (bucket->second != second) *bucket = Bucket{second};
  if (bucket->tokens == 0 && !bucket->exhausted) {
    // The round trip happens without the lock: other keys, and other
    // callers' spending, don't wait for Redis.
    lock.unlock();
    int64_t chunk = std::max<int64_t>(1, limit / 10);
    auto reply = redis_->Command({"EVAL", kReserveScript, "1",
                                  absl::StrCat(prefix_, "{", key, "}:", second),
                                  std::to_string(limit), std::to_string(chunk)});
    const redisReply* r = reply.ok() ? reply->raw() : nullptr;
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
      return {true, 0};  // Redis away: let it through
    }
    lock.lock();
    bucket = &buckets_[key];  // the map may have changed meanwhile
    if (bucket->second != second) *bucket = Bucket{second};
    bucket->tokens += r->element[0]->integer;
    bucket->reserved = std::max<int64_t>(bucket->reserved, r->element[1]->integer);
    bucket->exhausted = bucket->tokens == 0;
  }
  if (bucket->tokens > 0) {
    --bucket->tokens;
    return {true, bucket->reserved + bucket->refused};
  }
  ++bucket->refused;
  return {false, bucket->reserved + bucket->refused};
}

bool TokenBucket::Take(int64_t rate, int64_t now_ms, int64_t* retry_after_ms) {
  rate = std::max<int64_t>(1, rate);
  if (tokens_ < 0) {
    tokens_ = static_cast<double>(rate);
    last_ms_ = now_ms;
  }
  double elapsed = static_cast<double>(std::max<int64_t>(0, now_ms - last_ms_));
  tokens_ = std::min<double>(static_cast<double>(rate), tokens_ + elapsed * rate / 1000.0);
  last_ms_ = now_ms;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  *retry_after_ms = static_cast<int64_t>((1.0 - tokens_) * 1000.0 / rate) + 1;
  return false;
}

}  // namespace parley::ratelimit
