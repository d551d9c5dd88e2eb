// Presence and routing in Redis: which gateway instance holds which session.
//
// Keys (the SDKAppID is hash-tagged, so a user's keys share a cluster slot):
//   parley:{<app>}:sessions:<user>   hash   session id -> Session JSON
//   parley:gw:<gateway>:alive        string "1", expires unless refreshed
//   parley:gw:<gateway>              stream of deliveries for that gateway
//   parley:{<app>}:grpgw:<group>     set of gateways holding sessions of
//                                    the group's members (see below)
// A gateway that dies stops refreshing its alive key; its sessions are then
// ignored and cleaned up lazily, and clients reconnect elsewhere.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "parley/redis/pool.h"

namespace parley::presence {

struct Session {
  std::string session_id;
  std::string gateway_id;
  std::string platform;  // iPhone, Android, iPad, Web, PC, Mac
  std::string device_id;
  int64_t login_time = 0;
};

// "mobile" (iPhone, Android, iPad), "desktop" (PC, Mac) or "web".
std::string PlatformClass(const std::string& platform);
bool IsKnownPlatform(const std::string& platform);

std::string SessionsKey(uint64_t sdkappid, const std::string& user_id);
std::string GatewayStream(const std::string& gateway_id);
std::string GroupGatewaysKey(uint64_t sdkappid, const std::string& group_id);

// A delivery in a gateway's stream: the fields of one stream entry.
struct StreamEntry {
  // "events": the payload is a serialized GatewayEvents;
  // "kick": the payload is the reason, for session_id of user_id.
  std::string type;
  uint64_t sdkappid = 0;
  std::string user_id;     // kick
  std::string session_id;  // kick
  std::string payload;
};

// Login state changes, for State.StateChange callbacks. Appended to the
// stream parley:state_changes (bounded) with these fields.
struct StateChange {
  uint64_t sdkappid = 0;
  std::string user_id;
  std::string action;    // Login, Logout, Disconnect; Background, Foreground
  std::string reason;    // Register, Unregister, LinkClose, TimeOut, Kicked
  std::string platform;
  std::vector<std::string> kicked_platforms;  // Login: sessions it replaced
  int64_t time_ms = 0;
  // The user's status after the change (Online, PushOnline, Offline; see
  // devices.h PushStatus); empty when it could not be read.
  std::string status;
};

inline constexpr char kStateChangeStream[] = "parley:state_changes";

class Presence {
 public:
  explicit Presence(redis::Pool* pool) : pool_(pool) {}
  redis::Pool* pool() const { return pool_; }

  absl::Status AddSession(uint64_t sdkappid, const std::string& user_id, const Session& session);
  // Records `session` and, when `one_per_class`, in the same atomic step
  // (one Lua script) forgets every other session of the user in its
  // platform class and appends a kick ("login_elsewhere") for each to its
  // gateway's stream. However many logins of one user race, on however many
  // gateways, each class ends with exactly the last one to claim. Returns the
  // platforms of the sessions it kicked.
  absl::StatusOr<std::vector<std::string>> ClaimSession(uint64_t sdkappid,
                                                        const std::string& user_id,
                                                        const Session& session,
                                                        bool one_per_class);
  absl::Status RemoveSession(uint64_t sdkappid, const std::string& user_id,
                             const std::string& session_id);
  // The user's sessions on gateways that are alive.
  absl::StatusOr<std::vector<Session>> Sessions(uint64_t sdkappid, const std::string& user_id);

  // Sessions of many users of one app at once (three round trips in all).
  absl::StatusOr<std::map<std::string, std::vector<Session>>> SessionsOfUsers(
      uint64_t sdkappid, const std::vector<std::string>& user_ids);
  // Appends many entries in one round trip.
  absl::Status AppendAll(const std::vector<std::pair<std::string, StreamEntry>>& entries);

  absl::Status RecordStateChange(const StateChange& change);

  // Group routing. A group's gateway set holds every gateway that has (or
  // had, until it notices otherwise) a session of a member; group events go
  // once to each live one. Gateways add themselves when a member logs in
  // there; the push service adds the gateways of members who join; a gateway
  // that keeps getting events of a group it holds no member of removes
  // itself. Dead gateways are skipped by their alive key. One round trip for
  // all the groups.
  absl::Status AddGroupGateway(uint64_t sdkappid, const std::vector<std::string>& group_ids,
                               const std::string& gateway_id);
  absl::Status AddGroupGateways(uint64_t sdkappid, const std::string& group_id,
                                const std::vector<std::string>& gateway_ids);
  // A gateway that holds no member of the group any more leaves its set
  // (gateway/group_router.h says when that is safe).
  absl::Status RemoveGroupGateway(uint64_t sdkappid, const std::string& group_id,
                                  const std::string& gateway_id);
  // The live gateways of the group's set.
  absl::StatusOr<std::vector<std::string>> GroupGateways(uint64_t sdkappid,
                                                         const std::string& group_id);
  absl::Status ForgetGroup(uint64_t sdkappid, const std::string& group_id);

  // Marks the gateway alive for `ttl_seconds` and keeps its stream from
  // expiring (a dead gateway's stream is deleted two minutes after).
  absl::Status HeartbeatGateway(const std::string& gateway_id, int ttl_seconds);
  absl::Status Append(const std::string& gateway_id, const StreamEntry& entry);
  // The id of the newest entry in the gateway's stream ("0-0" when it is
  // empty or missing): where a starting gateway begins to read.
  absl::StatusOr<std::string> NewestStreamId(const std::string& gateway_id);
  // Appends a kick for every session of the user (or only `session_id`) and
  // forgets them.
  absl::Status Kick(uint64_t sdkappid, const std::string& user_id, const std::string& reason,
                    const std::string& session_id = "");

 private:
  redis::Pool* pool_;
};

}  // namespace parley::presence
