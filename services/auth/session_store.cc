#include "session_store.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace parley::auth {

std::string SessionsKey(uint64_t sdkappid, const std::string& user_id) {
  return absl::StrCat("parley:{", sdkappid, "}:sessions:", user_id);
}

absl::Status SessionStore::RemoveUser(uint64_t sdkappid, const std::string& user_id,
                                      const std::string& reason) {
  auto deleted = pool_->Command({"DEL", SessionsKey(sdkappid, user_id)});
  if (!deleted.ok()) return deleted.status();
  nlohmann::json event = {{"sdkappid", sdkappid}, {"user_id", user_id}, {"reason", reason}};
  auto published = pool_->Command({"PUBLISH", kKickChannel, event.dump()});
  return published.status();
}

absl::StatusOr<int64_t> SessionStore::CountSessions(uint64_t sdkappid, const std::string& user_id) {
  auto reply = pool_->Command({"HLEN", SessionsKey(sdkappid, user_id)});
  if (!reply.ok()) return reply.status();
  return reply->integer();
}

}  // namespace parley::auth
