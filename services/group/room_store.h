// SQL of AVChatRoom bans and the room list (docs/architecture.md, "Live
// rooms"). Each function runs in the caller's transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace parley::group::store {

struct BanRow {
  std::string user_id;
  int64_t banned_until = 0;
};

// What entering a room needs, in one statement.
struct RoomStanding {
  int16_t type = 0;
  bool mute_all = false;
  int16_t role = -1;  // -1: no row (a plain member)
  int64_t mute_until = 0;
  int64_t banned_until = 0;
  uint32_t recent_count = 0;
};
struct StandingKey {
  uint64_t app = 0;
  std::string group_id, user;
};
// One statement for many entries (a join storm's batch): one result per
// key, nullopt when there is no such group.
std::vector<std::optional<RoomStanding>> Standings(pqxx::work& tx,
                                                   const std::vector<StandingKey>& keys,
                                                   int64_t now);

// When the user's mute in the group ends (0: not muted now), member or not.
int64_t MuteOf(pqxx::work& tx, uint64_t app, const std::string& id, const std::string& user,
               int64_t now);
void Ban(pqxx::work& tx, uint64_t app, const std::string& id, const std::vector<std::string>& users,
         int64_t until, const std::string& description);
void Unban(pqxx::work& tx, uint64_t app, const std::string& id,
           const std::vector<std::string>& users);
// Bans still running, in ban order.
std::vector<BanRow> Bans(pqxx::work& tx, uint64_t app, const std::string& id, uint32_t offset,
                         uint32_t limit, int64_t now);
// The app's AVChatRooms with IDs after `after`, in ID order.
std::vector<std::string> RoomIds(pqxx::work& tx, uint64_t app, const std::string& after,
                                 uint32_t limit);

}  // namespace parley::group::store
