#include "room_store.h"

#include "parley/pg/pool.h"

namespace parley::group::store {

std::optional<RoomStanding> Standing(pqxx::work& tx, uint64_t app, const std::string& id,
                                     const std::string& user, int64_t now) {
  auto rows = pg::ExecPrepared(
      tx, "room_standing",
      "SELECT g.type, g.mute_all,"
      " (SELECT m.role FROM group_members m WHERE m.sdkappid = $1 AND m.group_id = $2"
      "   AND m.user_id = $3),"
      " (SELECT u.mute_until FROM group_mutes u WHERE u.sdkappid = $1 AND u.group_id = $2"
      "   AND u.user_id = $3 AND u.mute_until > $4),"
      " (SELECT b.banned_until FROM group_bans b WHERE b.sdkappid = $1 AND b.group_id = $2"
      "   AND b.user_id = $3 AND b.banned_until > $4),"
      " (SELECT f.room_recent_count FROM group_app_fields f WHERE f.sdkappid = $1)"
      " FROM groups g WHERE g.sdkappid = $1 AND g.group_id = $2",
      app, id, user, now);
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  RoomStanding s;
  s.type = r[0].as<int16_t>();
  s.mute_all = r[1].as<bool>();
  s.role = r[2].is_null() ? -1 : r[2].as<int16_t>();
  s.mute_until = r[3].is_null() ? 0 : r[3].as<int64_t>();
  s.banned_until = r[4].is_null() ? 0 : r[4].as<int64_t>();
  s.recent_count = r[5].is_null() ? 0 : r[5].as<uint32_t>();
  return s;
}

int64_t MuteOf(pqxx::work& tx, uint64_t app, const std::string& id, const std::string& user,
               int64_t now) {
  auto rows = pg::ExecPrepared(tx, "room_mute_of",
                               "SELECT mute_until FROM group_mutes WHERE sdkappid = $1"
                               " AND group_id = $2 AND user_id = $3 AND mute_until > $4",
                               app, id, user, now);
  return rows.empty() ? 0 : rows[0][0].as<int64_t>();
}

void Ban(pqxx::work& tx, uint64_t app, const std::string& id, const std::vector<std::string>& users,
         int64_t until, const std::string& description) {
  tx.exec_params(
      "INSERT INTO group_bans (sdkappid, group_id, user_id, banned_until, description)"
      " SELECT $1, $2, u, $4, $5 FROM unnest($3::text[]) AS u"
      " ON CONFLICT (sdkappid, group_id, user_id) DO UPDATE"
      " SET banned_until = EXCLUDED.banned_until, description = EXCLUDED.description",
      app, id, pg::TextArray(users), until, description);
}

void Unban(pqxx::work& tx, uint64_t app, const std::string& id,
           const std::vector<std::string>& users) {
  tx.exec_params(
      "DELETE FROM group_bans WHERE sdkappid = $1 AND group_id = $2 AND user_id = ANY($3::text[])",
      app, id, pg::TextArray(users));
}

std::vector<BanRow> Bans(pqxx::work& tx, uint64_t app, const std::string& id, uint32_t offset,
                         uint32_t limit, int64_t now) {
  std::vector<BanRow> out;
  for (const auto& row : tx.exec_params(
           "SELECT user_id, banned_until FROM group_bans WHERE sdkappid = $1 AND group_id = $2"
           " AND banned_until > $3 ORDER BY serial OFFSET $4 LIMIT $5",
           app, id, now, offset, limit)) {
    out.push_back({row[0].as<std::string>(), row[1].as<int64_t>()});
  }
  return out;
}

std::vector<std::string> RoomIds(pqxx::work& tx, uint64_t app, const std::string& after,
                                 uint32_t limit) {
  std::vector<std::string> out;
  for (const auto& row : tx.exec_params(
           "SELECT group_id FROM groups WHERE sdkappid = $1 AND type = 5 AND group_id > $2"
           " ORDER BY group_id LIMIT $3",
           app, after, limit)) {
    out.push_back(row[0].as<std::string>());
  }
  return out;
}

}  // namespace parley::group::store
