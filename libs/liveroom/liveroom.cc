#include "parley/liveroom/liveroom.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace parley::liveroom {
namespace {

// Users per ZADD / ZMSCORE command, so one huge room does not make one
// huge command.
constexpr size_t kChunk = 1000;

// KEYS: joined, seen. ARGV: stale-before (ms). Forgets members nobody
// refreshed since then (at most 1000 per call) and returns the count.
constexpr char kPruneScript[] = R"lua(
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[2], unpack(gone))
end
return redis.call('ZCARD', KEYS[1])
)lua";

// KEYS: seen, rate. ARGV: user ('' = any), priority (h/n/l), limit,
// exempt ('1'/'0'), stale-before (ms). 1 admitted, 0 dropped, -1 not in room.
constexpr char kAdmitScript[] = R"lua(
if ARGV[1] ~= '' then
  local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not seen or tonumber(seen) < tonumber(ARGV[5]) then return -1 end
end
local c = redis.call('HMGET', KEYS[2], 'h', 'n', 'l')
local h, n, l = tonumber(c[1]) or 0, tonumber(c[2]) or 0, tonumber(c[3]) or 0
local p = ARGV[2]
if ARGV[4] == '1' then
  p = 'h'
else
  local used = h + n + l
  if p == 'h' then used = h elseif p == 'n' then used = h + n end
  if used >= tonumber(ARGV[3]) then return 0 end
end
redis.call('HINCRBY', KEYS[2], p, 1)
redis.call('EXPIRE', KEYS[2], 2)
return 1
)lua";

absl::Status FirstError(const absl::StatusOr<std::vector<absl::StatusOr<redis::Reply>>>& replies) {
  if (!replies.ok()) return replies.status();
  for (const auto& r : *replies) {
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

std::vector<std::string> Prune(uint64_t sdkappid, const std::string& group_id, int64_t now_ms) {
  return {"EVAL",
          kPruneScript,
          "2",
          Rooms::Key(sdkappid, group_id, "joined"),
          Rooms::Key(sdkappid, group_id, "seen"),
          std::to_string(now_ms - kStaleMs)};
}

// A room nobody refreshes any more (every gateway holding it died) is
// forgotten soon after.
void Expire(uint64_t sdkappid, const std::string& group_id,
            std::vector<std::vector<std::string>>* commands) {
  std::string ttl = std::to_string(3 * kStaleMs);
  commands->push_back({"PEXPIRE", Rooms::Key(sdkappid, group_id, "joined"), ttl});
  commands->push_back({"PEXPIRE", Rooms::Key(sdkappid, group_id, "seen"), ttl});
}

// ZADDs of `users` to `joined` (NX: a join time stays) and `seen`, a chunk
// at a time, and the keys' expiry.
void AddPresence(uint64_t sdkappid, const std::string& group_id,
                 const std::vector<std::string>& users, int64_t now_ms,
                 std::vector<std::vector<std::string>>* commands) {
  std::string now = std::to_string(now_ms);
  for (size_t i = 0; i < users.size(); i += kChunk) {
    std::vector<std::string> joined = {"ZADD", Rooms::Key(sdkappid, group_id, "joined"), "NX"};
    std::vector<std::string> seen = {"ZADD", Rooms::Key(sdkappid, group_id, "seen")};
    for (size_t j = i; j < std::min(users.size(), i + kChunk); ++j) {
      joined.insert(joined.end(), {now, users[j]});
      seen.insert(seen.end(), {now, users[j]});
    }
    commands->push_back(std::move(joined));
    commands->push_back(std::move(seen));
  }
  Expire(sdkappid, group_id, commands);
}

}  // namespace

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Rooms::Key(uint64_t sdkappid, const std::string& group_id, const char* part) {
  return absl::StrCat("parley:{", sdkappid, "}:room:", group_id, ":", part);
}

std::string JoinMarks(const std::vector<uint32_t>& marks) { return absl::StrJoin(marks, ","); }

std::vector<uint32_t> SplitMarks(const std::string& text) {
  std::vector<uint32_t> marks;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    uint32_t mark = 0;
    if (absl::SimpleAtoi(part, &mark)) marks.push_back(mark);
  }
  return marks;
}

absl::Status Rooms::Join(uint64_t sdkappid, const std::string& group_id,
                         const std::vector<std::string>& users, int64_t now_ms) {
  if (users.empty()) return absl::OkStatus();
  std::vector<std::vector<std::string>> commands;
  AddPresence(sdkappid, group_id, users, now_ms, &commands);
  return FirstError(pool_->Pipeline(commands));
}

absl::Status Rooms::Leave(uint64_t sdkappid, const std::string& group_id,
                          const std::vector<std::string>& users) {
  if (users.empty()) return absl::OkStatus();
  std::vector<std::string> joined = {"ZREM", Key(sdkappid, group_id, "joined")};
  std::vector<std::string> seen = {"ZREM", Key(sdkappid, group_id, "seen")};
  joined.insert(joined.end(), users.begin(), users.end());
  seen.insert(seen.end(), users.begin(), users.end());
  return FirstError(pool_->Pipeline({joined, seen}));
}

absl::StatusOr<uint64_t> Rooms::Refresh(uint64_t sdkappid, const std::string& group_id,
                                        const std::vector<std::string>& users, int64_t now_ms) {
  // A member another gateway's quit removed while still here comes back,
  // with the time it is seen again as its join time.
  std::vector<std::vector<std::string>> commands;
  if (!users.empty()) AddPresence(sdkappid, group_id, users, now_ms, &commands);
  commands.push_back(Prune(sdkappid, group_id, now_ms));
  auto replies = pool_->Pipeline(commands);
  if (auto st = FirstError(replies); !st.ok()) return st;
  return static_cast<uint64_t>(replies->back()->integer());
}

absl::StatusOr<uint64_t> Rooms::Count(uint64_t sdkappid, const std::string& group_id,
                                      int64_t now_ms) {
  auto reply = pool_->Command(Prune(sdkappid, group_id, now_ms));
  if (!reply.ok()) return reply.status();
  return static_cast<uint64_t>(reply->integer());
}

absl::StatusOr<std::vector<Member>> Rooms::Members(uint64_t sdkappid, const std::string& group_id,
                                                   int64_t after_ms, uint32_t mark, size_t limit,
                                                   int64_t now_ms) {
  auto counted = Count(sdkappid, group_id, now_ms);
  if (!counted.ok()) return counted.status();
  std::vector<Member> members;
  int64_t from = after_ms;
  // With a mark filter a page may need several reads; each read is bounded.
  for (int round = 0; round < 20 && members.size() < limit; ++round) {
    auto page = pool_->Command({"ZRANGEBYSCORE", Key(sdkappid, group_id, "joined"),
                                absl::StrCat("(", from), "+inf", "WITHSCORES", "LIMIT", "0",
                                std::to_string(limit)});
    if (!page.ok()) return page.status();
    size_t n = page->size() / 2;
    if (n == 0) break;
    std::vector<std::string> hmget = {"HMGET", Key(sdkappid, group_id, "marks")};
    for (size_t i = 0; i < n; ++i) hmget.push_back(page->element(2 * i));
    auto marks = pool_->Command(hmget);
    if (!marks.ok()) return marks.status();
    for (size_t i = 0; i < n && members.size() < limit; ++i) {
      Member m;
      m.user_id = page->element(2 * i);
      (void)absl::SimpleAtoi(page->element(2 * i + 1), &m.join_ms);
      m.marks = SplitMarks(marks->element(i));
      from = m.join_ms;
      if (mark != 0 && std::find(m.marks.begin(), m.marks.end(), mark) == m.marks.end()) continue;
      members.push_back(std::move(m));
    }
    if (n < limit) break;
  }
  return members;
}

absl::StatusOr<std::vector<std::string>> Rooms::Present(uint64_t sdkappid,
                                                        const std::string& group_id,
                                                        const std::vector<std::string>& users,
                                                        int64_t now_ms) {
  std::vector<std::string> present;
  if (users.empty()) return present;
  std::vector<std::string> args = {"ZMSCORE", Key(sdkappid, group_id, "seen")};
  args.insert(args.end(), users.begin(), users.end());
  auto reply = pool_->Command(args);
  if (!reply.ok()) return reply.status();
  for (size_t i = 0; i < users.size() && i < reply->size(); ++i) {
    int64_t seen = 0;
    if (absl::SimpleAtoi(reply->element(i), &seen) && seen >= now_ms - kStaleMs) {
      present.push_back(users[i]);
    }
  }
  return present;
}

absl::Status Rooms::Mark(uint64_t sdkappid, const std::string& group_id,
                         const std::vector<std::pair<std::string, std::vector<uint32_t>>>& marks,
                         bool add) {
  if (marks.empty()) return absl::OkStatus();
  std::string key = Key(sdkappid, group_id, "marks");
  std::vector<std::string> hmget = {"HMGET", key};
  for (const auto& [user, m] : marks) hmget.push_back(user);
  auto current = pool_->Command(hmget);
  if (!current.ok()) return current.status();
  std::vector<std::string> hset = {"HSET", key};
  std::vector<std::string> hdel = {"HDEL", key};
  for (size_t i = 0; i < marks.size(); ++i) {
    auto had = SplitMarks(current->element(i));
    std::set<uint32_t> now(had.begin(), had.end());
    for (uint32_t m : marks[i].second) {
      if (add) {
        now.insert(m);
      } else {
        now.erase(m);
      }
    }
    if (now.empty()) {
      hdel.push_back(marks[i].first);
    } else {
      hset.insert(hset.end(), {marks[i].first, JoinMarks({now.begin(), now.end()})});
    }
  }
  std::vector<std::vector<std::string>> commands;
  if (hset.size() > 2) commands.push_back(hset);
  if (hdel.size() > 2) commands.push_back(hdel);
  commands.push_back({"EXPIRE", key, std::to_string(30 * 24 * 3600)});
  return FirstError(pool_->Pipeline(commands));
}

absl::StatusOr<Admission> Rooms::Admit(uint64_t sdkappid, const std::string& group_id,
                                       const std::string& user, char priority, uint32_t limit,
                                       bool exempt, int64_t now_ms) {
  auto reply = pool_->Command(
      {"EVAL", kAdmitScript, "2", Key(sdkappid, group_id, "seen"),
       absl::StrCat(Key(sdkappid, group_id, "rate:"), now_ms / 1000), user,
       std::string(1, priority), std::to_string(limit), exempt ? "1" : "0",
       std::to_string(now_ms - kStaleMs)});
  if (!reply.ok()) return reply.status();
  if (reply->integer() < 0) return Admission::kNotInRoom;
  return reply->integer() == 1 ? Admission::kAdmitted : Admission::kDropped;
}

absl::Status Rooms::Remember(uint64_t sdkappid, const std::string& group_id,
                             const std::string& message, uint32_t keep, int64_t now_ms) {
  if (keep == 0) return absl::OkStatus();
  keep = std::min(keep, kMaxRecent);
  std::string key = Key(sdkappid, group_id, "recent");
  return FirstError(pool_->Pipeline({{"LPUSH", key, absl::StrCat(now_ms, "\n", message)},
                                     {"LTRIM", key, "0", std::to_string(keep - 1)},
                                     {"PEXPIRE", key, std::to_string(kRecentMs)}}));
}

absl::StatusOr<std::vector<std::string>> Rooms::Recent(uint64_t sdkappid,
                                                       const std::string& group_id,
                                                       uint32_t count, int64_t now_ms) {
  std::vector<std::string> out;
  if (count == 0) return out;
  count = std::min(count, kMaxRecent);
  auto reply = pool_->Command(
      {"LRANGE", Key(sdkappid, group_id, "recent"), "0", std::to_string(count - 1)});
  if (!reply.ok()) return reply.status();
  for (size_t i = reply->size(); i-- > 0;) {
    std::string entry = reply->element(i);
    size_t nl = entry.find('\n');
    int64_t at = 0;
    if (nl == std::string::npos || !absl::SimpleAtoi(entry.substr(0, nl), &at)) continue;
    if (at < now_ms - kRecentMs) continue;
    out.push_back(entry.substr(nl + 1));
  }
  return out;
}

absl::Status Rooms::Forget(uint64_t sdkappid, const std::string& group_id) {
  auto reply = pool_->Command({"DEL", Key(sdkappid, group_id, "joined"),
                               Key(sdkappid, group_id, "seen"), Key(sdkappid, group_id, "marks"),
                               Key(sdkappid, group_id, "recent")});
  return reply.ok() ? absl::OkStatus() : reply.status();
}

}  // namespace parley::liveroom
