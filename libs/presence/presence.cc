#include "parley/presence/presence.h"

#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"

namespace parley::presence {
namespace {
// Streams keep the newest deliveries only; a gateway that falls this far
// behind has clients that resync by seq anyway.
constexpr char kStreamMaxLen[] = "100000";
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

absl::Status Presence::RemoveSession(uint64_t sdkappid, const std::string& user_id,
                                     const std::string& session_id) {
  return pool_->Command({"HDEL", SessionsKey(sdkappid, user_id), session_id}).status();
}

absl::StatusOr<std::vector<Session>> Presence::Sessions(uint64_t sdkappid,
                                                        const std::string& user_id) {
  auto all = pool_->Command({"HGETALL", SessionsKey(sdkappid, user_id)});
  if (!all.ok()) return all.status();
  std::vector<Session> sessions;
  std::set<std::string> alive, dead;
  for (size_t i = 0; i + 1 < all->size(); i += 2) {
    auto value = nlohmann::json::parse(all->element(i + 1), nullptr, false);
    if (!value.is_object()) continue;
    Session s;
    s.session_id = all->element(i);
    s.gateway_id = value.value("gateway", "");
    s.platform = value.value("platform", "");
    s.device_id = value.value("device", "");
    s.login_time = value.value("login_time", int64_t{0});
    if (!alive.count(s.gateway_id) && !dead.count(s.gateway_id)) {
      auto exists = pool_->Command({"EXISTS", absl::StrCat(GatewayStream(s.gateway_id), ":alive")});
      if (!exists.ok()) return exists.status();
      (exists->integer() ? alive : dead).insert(s.gateway_id);
    }
    if (dead.count(s.gateway_id)) {
      // The gateway died with this session: forget it.
      (void)pool_->Command({"HDEL", SessionsKey(sdkappid, user_id), s.session_id});
      continue;
    }
    sessions.push_back(std::move(s));
  }
  return sessions;
}

absl::Status Presence::HeartbeatGateway(const std::string& gateway_id, int ttl_seconds) {
  return pool_
      ->Command({"SET", absl::StrCat(GatewayStream(gateway_id), ":alive"), "1", "EX",
                 std::to_string(ttl_seconds)})
      .status();
}

absl::Status Presence::Append(const std::string& gateway_id, const StreamEntry& entry) {
  return pool_
      ->Command({"XADD", GatewayStream(gateway_id), "MAXLEN", "~", kStreamMaxLen, "*", "type",
                 entry.type, "app", std::to_string(entry.sdkappid), "user", entry.user_id,
                 "session", entry.session_id, "payload", entry.payload})
      .status();
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
