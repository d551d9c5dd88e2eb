#include "no_speaking.h"

#include "absl/strings/str_cat.h"

namespace parley::message {
namespace {

std::string Key(uint64_t sdkappid, const std::string& user) {
  return absl::StrCat(sdkappid, " ", user);
}

}  // namespace

int64_t NoSpeakingUntil(int64_t now, uint32_t seconds) {
  if (seconds == 0) return 0;
  int64_t until = now + static_cast<int64_t>(seconds);
  return until >= kNoSpeakingForever ? kNoSpeakingForever : until;
}

uint32_t NoSpeakingLeft(int64_t now, int64_t until) {
  if (until == kNoSpeakingForever) return static_cast<uint32_t>(kNoSpeakingForever);
  return until > now ? static_cast<uint32_t>(until - now) : 0;
}

NoSpeakingCache::NoSpeakingCache(Loader load, Clock now, std::function<bool()> caching)
    : load_(std::move(load)), now_(std::move(now)), caching_(std::move(caching)) {}

std::string NoSpeakingCache::Announcement(uint64_t sdkappid, const std::string& user) {
  return absl::StrCat("n ", Key(sdkappid, user));
}

void NoSpeakingCache::OnChange(const std::string& message) {
  if (message.rfind("n ", 0) != 0) return;
  cache_.Erase(message.substr(2));
}

absl::StatusOr<NoSpeaking> NoSpeakingCache::Get(uint64_t sdkappid, const std::string& user) {
  std::string key = Key(sdkappid, user);
  bool caching = caching_();
  int64_t now = now_();
  if (caching) {
    if (auto hit = cache_.Get(key, now)) return *hit;
  }
  uint64_t ticket = cache_.Ticket();
  auto loaded = load_(sdkappid, user);
  if (!loaded.ok()) return loaded.status();
  if (caching) cache_.PutIfUnchanged(key, *loaded, now + kTtlSeconds, ticket);
  return loaded;
}

}  // namespace parley::message
