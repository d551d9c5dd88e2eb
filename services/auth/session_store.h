// Login state of users, on top of the presence records in Redis
// (libs/presence): removing a user's login state kicks every live session.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "parley/presence/presence.h"

namespace parley::auth {

class SessionStore {
 public:
  explicit SessionStore(redis::Pool* pool) : pool_(pool), presence_(pool) {}

  // Kicks every session of the user (their gateways close them with
  // `reason`) and forgets its login state.
  absl::Status RemoveUser(uint64_t sdkappid, const std::string& user_id, const std::string& reason);
  // Number of recorded sessions of the user.
  absl::StatusOr<int64_t> CountSessions(uint64_t sdkappid, const std::string& user_id);

 private:
  redis::Pool* pool_;
  presence::Presence presence_;
};

}  // namespace parley::auth
