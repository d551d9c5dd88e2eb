// Login state in Redis. Keys carry the SDKAppID (hash-tagged, so one app's
// keys of a user stay on one cluster slot):
//   parley:{<sdkappid>}:sessions:<user>  hash  device id -> session record
// Gateways (the real-time messaging issue) write sessions here and subscribe
// to the kick channel below to close live sockets.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "parley/redis/pool.h"

namespace parley::auth {

inline constexpr char kKickChannel[] = "parley:kick";

std::string SessionsKey(uint64_t sdkappid, const std::string& user_id);

class SessionStore {
 public:
  explicit SessionStore(redis::Pool* pool) : pool_(pool) {}

  // Forgets every session of the user and tells gateways to close them.
  absl::Status RemoveUser(uint64_t sdkappid, const std::string& user_id, const std::string& reason);
  // Number of recorded sessions of the user.
  absl::StatusOr<int64_t> CountSessions(uint64_t sdkappid, const std::string& user_id);

 private:
  redis::Pool* pool_;
};

}  // namespace parley::auth
