#include "parley/presence/presence.h"

#include <nlohmann/json.hpp>
#include <algorithm>
#include <chrono>
#include <set>

#include "absl/strings/str_cat.h"

namespace parley::presence {
namespace {
// Streams keep the last 30 s of deliveries only: a gateway reads its stream
// within milliseconds, and one that falls this far behind has clients that
// resync by seq anyway. Trimming by age, not entry count, bounds memory by
// traffic whatever each entry holds (push puts a whole batch in one).
constexpr int64_t kStreamRetentionMillis = 30000;
constexpr int64_t kForgetDeadSessionsAfterSeconds = 60;
// A live gateway keeps pushing this back with every heartbeat; the stream of
// one that died (push stops routing to it once its alive key expires) is
// deleted this long after its last heartbeat instead of holding its backlog
// in Redis forever.
constexpr char kDeadStreamLingerSeconds[] = "120";
}  // namespace

std::string PlatformClass(const std::string& platform) {
  if (platform == "PC" || platform == "Mac") return "desktop";
  if (platform == "Web") return "web";
  return "mobile";
}

bool IsKnownPlatform(const std::string& platform) {
  static const std::set<std::string> kPlatforms = {"iPhone", "Android", "iPad", "Web", "PC", "Mac"};
  return kPlatforms.count(platform) > 0;
}

std::string SessionsKey(uint64_t sdkappid, const std::string& user_id) {
  return absl::StrCat("parley:{", sdkappid, "}:sessions:", user_id);
}

std::string GatewayStream(const std::string& gateway_id) {
  return absl::StrCat("parley:gw:", gateway_id);
}

absl::Status Presence::AddSession(uint64_t sdkappid, const std::string& user_id,
                                  const Session& session) {
  nlohmann::json value = {{"gateway", session.gateway_id},
                          {"platform", session.platform},
                          {"device", session.device_id},
                          {"login_time", session.login_time}};
  return pool_->Command({"HSET", SessionsKey(sdkappid, user_id), session.session_id, value.dump()})
      .status();
}

namespace {

// KEYS[1]: the user's sessions. ARGV: session id, session JSON, the class to
// clear ("" for none), the stream's oldest kept id, app, user, kick reason.
// Gateway streams are not declared keys: Parley runs on one Redis (or one
// shard per app with every key of it), not on a sharded cluster across apps.
constexpr char kClaimScript[] = R"lua(
local function class_of(platform)
  if platform == 'PC' or platform == 'Mac' then return 'desktop' end
  if platform == 'Web' then return 'web' end
  return 'mobile'
end
local kicked = {}
if ARGV[3] ~= '' then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local ok, s = pcall(cjson.decode, all[i + 1])
    if ok and type(s) == 'table' and type(s.platform) == 'string' and
       class_of(s.platform) == ARGV[3] and all[i] ~= ARGV[1] then
      -- Only a live gateway gets the kick: appending to a dead one's stream
      -- would create a key that nothing deletes any more.
      local stream = 'parley:gw:' .. tostring(s.gateway)
      if redis.call('EXISTS', stream .. ':alive') == 1 then
        redis.call('XADD', stream, 'MINID', '~', ARGV[4], '*', 'type', 'kick', 'app', ARGV[5],
                   'user', ARGV[6], 'session', all[i], 'payload', ARGV[7])
      end
      redis.call('HDEL', KEYS[1], all[i])
      table.insert(kicked, s.platform)
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return kicked
)lua";

}  // namespace

absl::StatusOr<std::vector<std::string>> Presence::ClaimSession(uint64_t sdkappid,
                                                                const std::string& user_id,
                                                                const Session& session,
                                                                bool one_per_class) {
  nlohmann::json value = {{"gateway", session.gateway_id},
                          {"platform", session.platform},
                          {"device", session.device_id},
                          {"login_time", session.login_time}};
  int64_t now_millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  auto reply = pool_->Command(
      {"EVAL", kClaimScript, "1", SessionsKey(sdkappid, user_id), session.session_id,
       value.dump(), one_per_class ? PlatformClass(session.platform) : "",
       std::to_string(now_millis - kStreamRetentionMillis), std::to_string(sdkappid), user_id,
       "login_elsewhere"});
  if (!reply.ok()) return reply.status();
  std::vector<std::string> kicked;
  const redisReply* r = reply->raw();
  for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
    kicked.emplace_back(r->element[i]->str, r->element[i]->len);
  }
  return kicked;
}

absl::Status Presence::RemoveSession(uint64_t sdkappid, const std::string& user_id,
                                     const std::string& session_id) {
  return pool_->Command({"HDEL", SessionsKey(sdkappid, user_id), session_id}).status();
}

absl::StatusOr<std::vector<Session>> Presence::Sessions(uint64_t sdkappid,
                                                        const std::string& user_id) {
  auto all = SessionsOfUsers(sdkappid, {user_id});
  if (!all.ok()) return all.status();
  return std::move((*all)[user_id]);
}

namespace {

std::vector<std::string> XaddArgs(const std::string& gateway_id, const StreamEntry& entry) {
  int64_t now_millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  std::string oldest_kept = std::to_string(now_millis - kStreamRetentionMillis);
  return {"XADD", GatewayStream(gateway_id), "MINID", "~", oldest_kept, "*", "type",
          entry.type, "app", std::to_string(entry.sdkappid), "user", entry.user_id,
          "session", entry.session_id, "payload", entry.payload};
}

}  // namespace

absl::StatusOr<std::map<std::string, std::vector<Session>>> Presence::SessionsOfUsers(
    uint64_t sdkappid, const std::vector<std::string>& user_ids) {
  std::vector<std::vector<std::string>> reads;
  for (const auto& user : user_ids) reads.push_back({"HGETALL", SessionsKey(sdkappid, user)});
  auto replies = pool_->Pipeline(reads);
  if (!replies.ok()) return replies.status();
  std::map<std::string, std::vector<Session>> out;
  std::set<std::string> gateways;
  for (size_t u = 0; u < user_ids.size(); ++u) {
    auto& sessions = out[user_ids[u]];
    if (!(*replies)[u].ok()) return (*replies)[u].status();
    const redis::Reply& all = *(*replies)[u];
    for (size_t i = 0; i + 1 < all.size(); i += 2) {
      auto value = nlohmann::json::parse(all.element(i + 1), nullptr, false);
      if (!value.is_object()) continue;
      Session s;
      s.session_id = all.element(i);
      s.gateway_id = value.value("gateway", "");
      s.platform = value.value("platform", "");
      s.device_id = value.value("device", "");
      s.login_time = value.value("login_time", int64_t{0});
      gateways.insert(s.gateway_id);
      sessions.push_back(std::move(s));
    }
  }
  if (gateways.empty()) return out;
  // Drop sessions of gateways that stopped heartbeating.
  std::vector<std::string> gateway_list(gateways.begin(), gateways.end());
  std::vector<std::vector<std::string>> checks;
  for (const auto& g : gateway_list) checks.push_back({"EXISTS", GatewayStream(g) + ":alive"});
  auto alive = pool_->Pipeline(checks);
  if (!alive.ok()) return alive.status();
  std::set<std::string> dead;
  for (size_t i = 0; i < gateway_list.size(); ++i) {
    if ((*alive)[i].ok() && (*alive)[i]->integer() == 0) dead.insert(gateway_list[i]);
  }
  if (dead.empty()) return out;
  // Forget sessions of dead gateways, but only old ones: a gateway whose alive
  // key is missing for a moment (Redis restarting, the gateway starting) must
  // not lose sessions it just registered.
  int64_t forget_before = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() -
                          kForgetDeadSessionsAfterSeconds;
  for (auto& [user, sessions] : out) {
    for (const auto& s : sessions) {
      if (dead.count(s.gateway_id) && s.login_time < forget_before) {
        (void)pool_->Command({"HDEL", SessionsKey(sdkappid, user), s.session_id});
      }
    }
    sessions.erase(std::remove_if(sessions.begin(), sessions.end(),
                                  [&](const Session& s) { return dead.count(s.gateway_id) > 0; }),
                   sessions.end());
  }
  return out;
}

std::string GroupGatewaysKey(uint64_t sdkappid, const std::string& group_id) {
  return "parley:{" + std::to_string(sdkappid) + "}:grpgw:" + group_id;
}

absl::Status Presence::AddGroupGateway(uint64_t sdkappid,
                                       const std::vector<std::string>& group_ids,
                                       const std::string& gateway_id) {
  if (group_ids.empty()) return absl::OkStatus();
  std::vector<std::vector<std::string>> adds;
  adds.reserve(group_ids.size());
  for (const auto& group : group_ids) {
    adds.push_back({"SADD", GroupGatewaysKey(sdkappid, group), gateway_id});
  }
  auto replies = pool_->Pipeline(adds);
  if (!replies.ok()) return replies.status();
  for (const auto& reply : *replies) {
    if (!reply.ok()) return reply.status();
  }
  return absl::OkStatus();
}

absl::Status Presence::AddGroupGateways(uint64_t sdkappid, const std::string& group_id,
                                        const std::vector<std::string>& gateway_ids) {
  if (gateway_ids.empty()) return absl::OkStatus();
  std::vector<std::string> args = {"SADD", GroupGatewaysKey(sdkappid, group_id)};
  args.insert(args.end(), gateway_ids.begin(), gateway_ids.end());
  auto reply = pool_->Command(args);
  return reply.ok() ? absl::OkStatus() : reply.status();
}

absl::Status Presence::RemoveGroupGateway(uint64_t sdkappid, const std::string& group_id,
                                          const std::string& gateway_id) {
  auto reply = pool_->Command({"SREM", GroupGatewaysKey(sdkappid, group_id), gateway_id});
  return reply.ok() ? absl::OkStatus() : reply.status();
}

absl::StatusOr<std::vector<std::string>> Presence::GroupGateways(uint64_t sdkappid,
                                                                 const std::string& group_id) {
  auto members = pool_->Command({"SMEMBERS", GroupGatewaysKey(sdkappid, group_id)});
  if (!members.ok()) return members.status();
  std::vector<std::string> all;
  for (size_t i = 0; i < members->size(); ++i) all.push_back(members->element(i));
  if (all.empty()) return all;
  std::vector<std::vector<std::string>> checks;
  for (const auto& g : all) checks.push_back({"EXISTS", GatewayStream(g) + ":alive"});
  auto alive = pool_->Pipeline(checks);
  if (!alive.ok()) return alive.status();
  std::vector<std::string> live;
  for (size_t i = 0; i < all.size(); ++i) {
    // A failed check counts as alive: an extra entry is dropped, a missing one is lost.
    if (!(*alive)[i].ok() || (*alive)[i]->integer() != 0) live.push_back(all[i]);
  }
  return live;
}

absl::Status Presence::ForgetGroup(uint64_t sdkappid, const std::string& group_id) {
  auto reply = pool_->Command({"DEL", GroupGatewaysKey(sdkappid, group_id)});
  return reply.ok() ? absl::OkStatus() : reply.status();
}

absl::Status Presence::AppendAll(const std::vector<std::pair<std::string, StreamEntry>>& entries) {
  std::vector<std::vector<std::string>> commands;
  for (const auto& [gateway, entry] : entries) commands.push_back(XaddArgs(gateway, entry));
  auto replies = pool_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  for (const auto& reply : *replies) {
    if (!reply.ok()) return reply.status();
  }
  return absl::OkStatus();
}

absl::Status Presence::RecordStateChange(const StateChange& change) {
  std::string kicked;
  for (const auto& p : change.kicked_platforms) kicked += (kicked.empty() ? "" : ",") + p;
  return pool_
      ->Command({"XADD", kStateChangeStream, "MAXLEN", "~", "1000000", "*", "app",
                 std::to_string(change.sdkappid), "user", change.user_id, "action", change.action,
                 "reason", change.reason, "platform", change.platform, "kicked", kicked, "time_ms",
                 std::to_string(change.time_ms), "status", change.status})
      .status();
}

absl::Status Presence::HeartbeatGateway(const std::string& gateway_id, int ttl_seconds) {
  const std::string stream = GatewayStream(gateway_id);
  auto replies = pool_->Pipeline(
      {{"SET", absl::StrCat(stream, ":alive"), "1", "EX", std::to_string(ttl_seconds)},
       {"EXPIRE", stream, kDeadStreamLingerSeconds}});
  if (!replies.ok()) return replies.status();
  for (const auto& reply : *replies) {
    if (!reply.ok()) return reply.status();
  }
  return absl::OkStatus();
}

absl::Status Presence::Append(const std::string& gateway_id, const StreamEntry& entry) {
  return pool_->Command(XaddArgs(gateway_id, entry)).status();
}

absl::StatusOr<std::string> Presence::NewestStreamId(const std::string& gateway_id) {
  auto newest = pool_->Command({"XREVRANGE", GatewayStream(gateway_id), "+", "-", "COUNT", "1"});
  if (!newest.ok()) return newest.status();
  const redisReply* r = newest->raw();
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return std::string("0-0");
  const redisReply* id = r->element[0]->element[0];
  return std::string(id->str, id->len);
}

absl::Status Presence::Kick(uint64_t sdkappid, const std::string& user_id,
                            const std::string& reason, const std::string& session_id) {
  auto sessions = Sessions(sdkappid, user_id);
  if (!sessions.ok()) return sessions.status();
  for (const Session& s : *sessions) {
    if (!session_id.empty() && s.session_id != session_id) continue;
    if (auto st = Append(s.gateway_id, {"kick", sdkappid, user_id, s.session_id, reason});
        !st.ok()) {
      return st;
    }
    if (auto st = RemoveSession(sdkappid, user_id, s.session_id); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace parley::presence
