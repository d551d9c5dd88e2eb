#include "room_store.h"

#include "parley/pg/pool.h"

namespace parley::group::store {

std::vector<std::optional<RoomStanding>> Standings(pqxx::work& tx,
                                                   const std::vector<StandingKey>& keys,
                                                   int64_t now) {
  std::vector<std::optional<RoomStanding>> out(keys.size());
  if (keys.empty()) return out;
  std::vector<std::string> apps, groups, users;
  for (const auto& k : keys) {
    apps.push_back(std::to_string(k.app));
    groups.push_back(k.group_id);
    users.push_back(k.user);
  }
  auto rows = pg::ExecPrepared(
      tx, "room_standings",
      "SELECT q.i, g.type, g.mute_all, m.role, u.mute_until, b.banned_until,"
      " f.room_recent_count"
      " FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS q(app, gid, uid, i)"
      " JOIN groups g ON g.sdkappid = q.app AND g.group_id = q.gid"
      " LEFT JOIN group_members m ON m.sdkappid = q.app AND m.group_id = q.gid"
      "   AND m.user_id = q.uid"
      " LEFT JOIN group_mutes u ON u.sdkappid = q.app AND u.group_id = q.gid"
      "   AND u.user_id = q.uid AND u.mute_until > $4"
      " LEFT JOIN group_bans b ON b.sdkappid = q.app AND b.group_id = q.gid"
      "   AND b.user_id = q.uid AND b.banned_until > $4"
      " LEFT JOIN group_app_fields f ON f.sdkappid = q.app",
      pg::TextArray(apps), pg::TextArray(groups), pg::TextArray(users), now);
  for (const auto& r : rows) {
    size_t i = r[0].as<size_t>() - 1;
    if (i >= out.size()) continue;
    RoomStanding s;
    s.type = r[1].as<int16_t>();
    s.mute_all = r[2].as<bool>();
    s.role = r[3].is_null() ? -1 : r[3].as<int16_t>();
    s.mute_until = r[4].is_null() ? 0 : r[4].as<int64_t>();
    s.banned_until = r[5].is_null() ? 0 : r[5].as<int64_t>();
    s.recent_count = r[6].is_null() ? 0 : r[6].as<uint32_t>();
    out[i] = s;
  }
  return out;
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
