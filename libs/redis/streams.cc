#include "parley/redis/streams.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace parley::redis {
namespace {

std::string Str(const redisReply* r) {
  return r && r->str ? std::string(r->str, r->len) : std::string();
}

constexpr char kMoveScript[] = R"lua(
local moved = 0
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 200)) do
  redis.call('ZREM', KEYS[1], member)
  local space = string.find(member, ' ', 1, true)
  redis.call('XADD', KEYS[2], '*', 'm', string.sub(member, space + 1))
  moved = moved + 1
end
return moved
)lua";

}  // namespace

StreamEntries ParseStreamEntries(const redisReply* list) {
  StreamEntries out;
  if (list == nullptr || list->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i < list->elements; ++i) {
    const redisReply* entry = list->element[i];
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 ||
        entry->element[1]->type != REDIS_REPLY_ARRAY) {
      continue;
    }
    std::map<std::string, std::string> fields;
    const redisReply* kv = entry->element[1];
    for (size_t f = 0; f + 1 < kv->elements; f += 2) fields[Str(kv->element[f])] = Str(kv->element[f + 1]);
    out.emplace_back(Str(entry->element[0]), std::move(fields));
  }
  return out;
}

StreamEntries ReadGroupEntries(const Reply& reply) {
  const redisReply* raw = reply.raw();
  if (raw->type != REDIS_REPLY_ARRAY || raw->elements == 0) return {};
  const redisReply* stream = raw->element[0];
  if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2) return {};
  return ParseStreamEntries(stream->element[1]);
}

StreamEntries ClaimIdle(Pool& redis, const std::string& stream, const std::string& group,
                        const std::string& consumer, std::chrono::milliseconds idle) {
  auto claimed = redis.Command({"XAUTOCLAIM", stream, group, consumer,
                                std::to_string(idle.count()), "0-0", "COUNT", "100"});
  if (!claimed.ok() || claimed->raw()->type != REDIS_REPLY_ARRAY ||
      claimed->raw()->elements < 2) {
    return {};
  }
  return ParseStreamEntries(claimed->raw()->element[1]);
}

absl::Status EnsureGroup(Pool& redis, const std::string& stream, const std::string& group,
                         const std::string& start) {
  auto created = redis.Command({"XGROUP", "CREATE", stream, group, start, "MKSTREAM"});
  if (!created.ok() && created.status().message().find("BUSYGROUP") == absl::string_view::npos) {
    return created.status();
  }
  return absl::OkStatus();
}

int64_t MoveDueRetries(Pool& redis, const std::string& retry_set, const std::string& stream,
                       int64_t now_ms) {
  auto moved = redis.Command({"EVAL", kMoveScript, "2", retry_set, stream, std::to_string(now_ms)});
  return moved.ok() ? moved->integer() : 0;
}

std::chrono::milliseconds Backoff(std::chrono::milliseconds base, std::chrono::milliseconds max,
                                  uint32_t attempts) {
  int64_t delay = base.count();
  for (uint32_t i = 1; i < attempts && delay < max.count(); ++i) delay *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(delay, max.count()));
}

bool StreamIdLess(const std::string& a, const std::string& b) {
  auto split = [](const std::string& id, uint64_t* ms, uint64_t* seq) {
    std::pair<std::string, std::string> parts = absl::StrSplit(id, absl::MaxSplits('-', 1));
    return absl::SimpleAtoi(parts.first, ms) && absl::SimpleAtoi(parts.second, seq);
  };
  uint64_t ams = 0, aseq = 0, bms = 0, bseq = 0;
  if (!split(a, &ams, &aseq) || !split(b, &bms, &bseq)) return false;
  return ams != bms ? ams < bms : aseq < bseq;
}

std::string ConsumedBefore(const std::vector<GroupProgress>& groups) {
  if (groups.empty()) return "";
  std::string safe;
  for (const auto& group : groups) {
    // Entries up to last_delivered_id were read; the pending ones among them
    // are not acknowledged yet, and the oldest of those bounds the trim.
    // With nothing pending, everything up to and including last_delivered_id
    // is acknowledged: the bound is the id right after it.
    std::string bound = group.pending > 0 ? group.oldest_pending_id : group.last_delivered_id;
    if (bound.empty() || bound == "0-0" || !StreamIdLess("0-0", bound)) return "";
    if (group.pending == 0) {
      std::pair<std::string, std::string> parts = absl::StrSplit(bound, absl::MaxSplits('-', 1));
      uint64_t seq = 0;
      if (!absl::SimpleAtoi(parts.second, &seq)) return "";
      bound = absl::StrCat(parts.first, "-", seq + 1);
    }
    if (safe.empty() || StreamIdLess(bound, safe)) safe = bound;
  }
  return safe;  // XTRIM MINID keeps `safe` and everything after it
}

int64_t TrimConsumed(Pool& redis, const std::string& stream) {
  auto info = redis.Command({"XINFO", "GROUPS", stream});
  if (!info.ok()) return 0;  // no stream yet, or Redis away: next round
  std::vector<GroupProgress> groups;
  const redisReply* list = info->raw();
  for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements; ++i) {
    const redisReply* fields = list->element[i];
    GroupProgress group;
    std::string name;
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
      std::string key = Str(fields->element[f]);
      if (key == "name") name = Str(fields->element[f + 1]);
      if (key == "last-delivered-id") group.last_delivered_id = Str(fields->element[f + 1]);
    }
    auto pending = redis.Command({"XPENDING", stream, name});
    if (!pending.ok()) return 0;
    const redisReply* summary = pending->raw();  // [count, smallest, greatest, consumers]
    if (summary->type != REDIS_REPLY_ARRAY || summary->elements < 2) return 0;
    group.pending = summary->element[0]->integer;
    group.oldest_pending_id = Str(summary->element[1]);
    groups.push_back(std::move(group));
  }
  std::string before = ConsumedBefore(groups);
  if (before.empty()) return 0;
  // Exact, not "~": what goes is only what is consumed.
  auto trimmed = redis.Command({"XTRIM", stream, "MINID", before});
  return trimmed.ok() ? trimmed->integer() : 0;
}

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace parley::redis
