// Global mutes (openconfigsvr/setnospeaking, compat reference §3.8): until
// when a user's client sends are refused, one-to-one and group apart.
//
// Every send asks, so the answers are cached per user. A change is
// announced on Redis (the group changes channel, "n <sdkappid> <user>") by
// the replica that stored it, and every replica drops that user's entry; a
// fill that raced an announcement is not kept. While the subscription is
// down nothing is cached, and entries expire after a minute regardless.
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "parley/cache/ttl_cache.h"

namespace parley::message {

struct NoSpeaking {
  int64_t c2c_until = 0;    // unix seconds; 0: not muted
  int64_t group_until = 0;
};

// 4294967295: muted for ever (it fits Tencent's uint32 fields).
inline constexpr int64_t kNoSpeakingForever = 4294967295LL;

// When a mute of `seconds` set at `now` ends: 0 lifts it; 4294967295 and
// anything reaching past it is for ever.
int64_t NoSpeakingUntil(int64_t now, uint32_t seconds);
// The seconds left of a mute ending at `until` (4294967295: for ever).
uint32_t NoSpeakingLeft(int64_t now, int64_t until);
// Whether a mute ending at `until` holds at `now`.
inline bool NoSpeakingNow(int64_t now, int64_t until) {
  return until == kNoSpeakingForever || until > now;
}

class NoSpeakingCache {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  using Loader = std::function<absl::StatusOr<NoSpeaking>(uint64_t sdkappid, const std::string& user)>;
  // `caching` tells whether announcements are being received right now.
  NoSpeakingCache(Loader load, Clock now, std::function<bool()> caching);

  absl::StatusOr<NoSpeaking> Get(uint64_t sdkappid, const std::string& user);

  // The announcement of a change to the user's mutes, as published and as
  // received (other messages on the channel are ignored).
  static std::string Announcement(uint64_t sdkappid, const std::string& user);
  void OnChange(const std::string& message);
  void InvalidateAll() { cache_.Clear(); }

  static constexpr int64_t kTtlSeconds = 60;

 private:
  Loader load_;
  Clock now_;
  std::function<bool()> caching_;
  cache::TtlCache<std::string, NoSpeaking> cache_{200000};
};

}  // namespace parley::message
