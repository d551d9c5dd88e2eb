// Frequency limits that hold across every gateway replica, with no Redis
// round trip per request: each replica takes its budget from a per-second
// counter in Redis in chunks (a tenth of the limit) and spends them locally.
// The grants of one second never add up to more than the limit, however many
// replicas ask; a replica that could not get more refuses until the next
// second. Only the chunk's round trip waits for Redis, and it holds no lock.
// When Redis can't be reached the limiter lets requests through
// (limits protect; they must not take the service down with Redis).
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "parley/redis/pool.h"

namespace parley::ratelimit {

class SharedLimiter {
 public:
  using Clock = std::function<int64_t()>;  // unix milliseconds
  // Counters are "<prefix>{<key>}:<second>".
  SharedLimiter(redis::Pool* redis, std::string prefix, Clock now_ms = nullptr);

  struct Result {
    bool allowed = true;
    // Requests for `key` this second as far as this replica knows: the
    // budget every replica took, plus the ones this replica refused.
    int64_t seen = 0;
  };
  // One request under `limit` per second for `key`.
  Result Acquire(const std::string& key, int64_t limit);

 private:
  struct Bucket {
    int64_t second = -1;
    int64_t tokens = 0;
    bool exhausted = false;
    int64_t reserved = 0;  // every replica's grants this second, as last read
    int64_t refused = 0;
  };

  redis::Pool* redis_;
  std::string prefix_;
  Clock now_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // pruned every new second
  int64_t pruned_second_ = -1;
};

// A local token bucket: `rate` per second, bursts of up to `rate`. For
// limits of one connection, where nothing is shared. Not thread-safe.
class TokenBucket {
 public:
  // True when a token was taken; otherwise `*retry_after_ms` says when the
  // next one is there.
  bool Take(int64_t rate, int64_t now_ms, int64_t* retry_after_ms);

 private:
  double tokens_ = -1;  // -1: full on first use
  int64_t last_ms_ = 0;
};

}  // namespace parley::ratelimit
