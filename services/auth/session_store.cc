#include "session_store.h"

namespace parley::auth {

absl::Status SessionStore::RemoveUser(uint64_t sdkappid, const std::string& user_id,
                                      const std::string& reason) {
  if (auto st = presence_.Kick(sdkappid, user_id, reason); !st.ok()) return st;
  return pool_->Command({"DEL", presence::SessionsKey(sdkappid, user_id)}).status();
}

absl::StatusOr<int64_t> SessionStore::CountSessions(uint64_t sdkappid, const std::string& user_id) {
  auto reply = pool_->Command({"HLEN", presence::SessionsKey(sdkappid, user_id)});
  if (!reply.ok()) return reply.status();
  return reply->integer();
}

}  // namespace parley::auth
