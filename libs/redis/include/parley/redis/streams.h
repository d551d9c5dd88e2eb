// Durable work queues on Redis streams, as parley-callback (after-callbacks)
// and parley-push (offline notifications) run them: producers XADD an entry
// with one field "m"; workers read it through a consumer group, handle it and
// acknowledge it; a failed attempt goes to a retry sorted set scored by when
// to try again, from which due entries move back onto the stream atomically;
// entries a dead worker read but never acknowledged are claimed by others;
// a trimmer drops what every group has acknowledged.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "parley/redis/pool.h"

namespace parley::redis {

// Stream entries: [(id, {field: value})].
using StreamEntries = std::vector<std::pair<std::string, std::map<std::string, std::string>>>;

// [[id, [field, value, ...]], ...]; deleted entries (nil) are skipped.
StreamEntries ParseStreamEntries(const redisReply* list);
// XREADGROUP's answer ([[stream, entries]]) for one stream.
StreamEntries ReadGroupEntries(const Reply& reply);
// Entries of `stream` read by a consumer that has not acknowledged them for
// `idle` (it died, or its acknowledgement failed), now given to `consumer`.
StreamEntries ClaimIdle(Pool& redis, const std::string& stream, const std::string& group,
                        const std::string& consumer, std::chrono::milliseconds idle);
// Creates the consumer group of `stream` if missing (start: "0" or "$").
// An existing group is not an error.
absl::Status EnsureGroup(Pool& redis, const std::string& stream, const std::string& group,
                         const std::string& start);
// Moves up to 200 retries due by `now_ms` from the sorted set `retry_set`
// (members "<old id> <payload>") onto `stream` as field "m"; how many moved.
int64_t MoveDueRetries(Pool& redis, const std::string& retry_set, const std::string& stream,
                       int64_t now_ms);

// The delay before attempt `attempts` + 1 (attempts >= 1 have failed):
// base doubling per attempt, at most max.
std::chrono::milliseconds Backoff(std::chrono::milliseconds base, std::chrono::milliseconds max,
                                  uint32_t attempts);

// A consumer group of a stream, as XINFO GROUPS and XPENDING report it.
struct GroupProgress {
  std::string last_delivered_id;  // "0-0" when nothing was read
  int64_t pending = 0;
  std::string oldest_pending_id;  // when pending > 0
};

// The MINID below which every group has read and acknowledged every entry
// (XTRIM MINID keeps it and what follows), or "" when nothing may be trimmed
// (no group, or a group read nothing).
std::string ConsumedBefore(const std::vector<GroupProgress>& groups);
// Stream ids ("<ms>-<seq>") in order; false for malformed ids.
bool StreamIdLess(const std::string& a, const std::string& b);
// Drops the entries of `stream` that every consumer group has read and
// acknowledged; how many went (0 also when Redis can't be asked).
int64_t TrimConsumed(Pool& redis, const std::string& stream);

int64_t NowMillis();

}  // namespace parley::redis
