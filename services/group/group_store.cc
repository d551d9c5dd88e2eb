#include "group_store.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "parley/delivery/topics.h"
#include "parley/pg/pool.h"
#include "topic_store.h"

namespace parley::group::store {
namespace {

constexpr char kGroupColumns[] =
    "sdkappid, group_id, type, name, introduction, notification, face_url, owner, max_members,"
    " apply_join_option, invite_join_option, mute_all, activated, member_count, create_time,"
    " info_seq, last_info_time, last_msg_time, next_msg_seq, serial, support_topic,"
    " enable_permission, default_permission";

constexpr int kGroupColumnCount = 23;

GroupRow ReadGroup(const pqxx::row& row, int at = 0) {
  GroupRow g;
  g.sdkappid = row[at + 0].as<uint64_t>();
  g.group_id = row[at + 1].as<std::string>();
  g.type = static_cast<GroupType>(row[at + 2].as<int>());
  g.name = row[at + 3].as<std::string>();
  g.introduction = row[at + 4].as<std::string>();
  g.notification = row[at + 5].as<std::string>();
  g.face_url = row[at + 6].as<std::string>();
  g.owner = row[at + 7].as<std::string>();
  g.max_members = row[at + 8].as<uint32_t>();
  g.apply_join_option = row[at + 9].as<std::string>();
  g.invite_join_option = row[at + 10].as<std::string>();
  g.mute_all = row[at + 11].as<bool>();
  g.activated = row[at + 12].as<bool>();
  g.member_count = row[at + 13].as<uint32_t>();
  g.create_time = row[at + 14].as<int64_t>();
  g.info_seq = row[at + 15].as<int64_t>();
  g.last_info_time = row[at + 16].as<int64_t>();
  g.last_msg_time = row[at + 17].as<int64_t>();
  g.next_msg_seq = row[at + 18].as<int64_t>();
  g.serial = row[at + 19].as<int64_t>();
  g.support_topic = row[at + 20].as<bool>();
  g.enable_permission = row[at + 21].as<bool>();
  g.default_permission = row[at + 22].as<uint32_t>();
  return g;
}

// Member columns, then the mute: m.* must be group_members, u the mutes.
constexpr char kMemberColumns[] =
    "m.user_id, m.role, m.join_time, m.msg_flag, m.name_card, m.last_send_time,"
    " CASE WHEN u.mute_until > $3 THEN u.mute_until ELSE 0 END";

MemberRow ReadMember(const pqxx::row& row, int at = 0) {
  MemberRow m;
  m.user_id = row[at + 0].as<std::string>();
  m.role = static_cast<Role>(row[at + 1].as<int>());
  m.join_time = row[at + 2].as<int64_t>();
  m.msg_flag = static_cast<MsgFlag>(row[at + 3].as<int>());
  m.name_card = row[at + 4].as<std::string>();
  m.last_send_time = row[at + 5].as<int64_t>();
  m.mute_until = row[at + 6].as<int64_t>();
  return m;
}

std::vector<int64_t> RoleValues(const std::vector<Role>& roles) {
  std::vector<int64_t> out;
  for (Role r : roles) out.push_back(static_cast<int64_t>(r));
  return out;
}

}  // namespace

std::vector<std::string> Column(const pqxx::result& rows) {
  std::vector<std::string> out;
  for (const auto& row : rows) out.push_back(row[0].as<std::string>());
  return out;
}

std::vector<std::pair<std::string, int16_t>> MembersAfter(pqxx::work& tx, uint64_t app,
                                                          const std::string& group_id,
                                                          const std::string& after,
                                                          uint32_t limit) {
  std::vector<std::pair<std::string, int16_t>> out;
  for (const auto& row : tx.exec_params(
           "SELECT user_id, msg_flag FROM group_members WHERE sdkappid = $1 AND group_id = $2"
           " AND user_id > $3 ORDER BY user_id LIMIT $4",
           app, group_id, after, limit)) {
    out.emplace_back(row[0].as<std::string>(), row[1].as<int16_t>());
  }
  return out;
}

std::optional<GroupRow> Group(pqxx::work& tx, uint64_t app, const std::string& id, bool lock) {
  auto rows = tx.exec_params(absl::StrCat("SELECT ", kGroupColumns,
                                          " FROM groups WHERE sdkappid = $1 AND group_id = $2",
                                          lock ? " FOR UPDATE" : ""),
                             app, id);
  if (rows.empty()) return std::nullopt;
  return ReadGroup(rows[0]);
}

bool InsertGroup(pqxx::work& tx, const GroupRow& g) {
  auto rows = tx.exec_params(
      "INSERT INTO groups (sdkappid, group_id, type, name, introduction, notification, face_url,"
      " owner, max_members, apply_join_option, invite_join_option, mute_all, activated,"
      " create_time, last_info_time, support_topic, enable_permission, default_permission)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16, $17)"
      " ON CONFLICT DO NOTHING RETURNING 1",
      g.sdkappid, g.group_id, static_cast<int>(g.type), g.name, g.introduction, g.notification,
      g.face_url, g.owner, g.max_members, g.apply_join_option, g.invite_join_option, g.mute_all,
      g.activated, g.create_time, g.support_topic, g.enable_permission,
      static_cast<int64_t>(g.default_permission));
  return !rows.empty();
}

uint32_t OwnedGroups(pqxx::work& tx, uint64_t app, const std::string& owner) {
  if (owner.empty()) return 0;
  return tx.exec_params("SELECT count(*) FROM groups WHERE sdkappid = $1 AND owner = $2", app,
                        owner)[0][0]
      .as<uint32_t>();
}

void DeleteGroup(pqxx::work& tx, uint64_t app, const std::string& id) {
  tx.exec_params("DELETE FROM groups WHERE sdkappid = $1 AND group_id = $2", app, id);
}

void UpdateGroup(pqxx::work& tx, const GroupRow& g, int64_t now) {
  tx.exec_params(
      "UPDATE groups SET name = $3, introduction = $4, notification = $5, face_url = $6,"
      " owner = $7, max_members = $8, apply_join_option = $9, invite_join_option = $10,"
      " mute_all = $11, info_seq = info_seq + 1, last_info_time = $12, enable_permission = $13,"
      " default_permission = $14 WHERE sdkappid = $1 AND group_id = $2",
      g.sdkappid, g.group_id, g.name, g.introduction, g.notification, g.face_url, g.owner,
      g.max_members, g.apply_join_option, g.invite_join_option, g.mute_all, now,
      g.enable_permission, static_cast<int64_t>(g.default_permission));
}

std::vector<std::string> InsertMembers(pqxx::work& tx, uint64_t app, const std::string& id,
                                       const std::vector<MemberRow>& members) {
  if (members.empty()) return {};
  std::vector<std::string> users;
  std::vector<int64_t> roles, times;
  for (const auto& m : members) {
    users.push_back(m.user_id);
    roles.push_back(static_cast<int64_t>(m.role));
    times.push_back(m.join_time);
  }
  auto added = Column(tx.exec_params(
      "INSERT INTO group_members (sdkappid, group_id, user_id, role, join_time)"
      " SELECT $1, $2, u, r, t FROM unnest($3::text[], $4::smallint[], $5::bigint[])"
      "  WITH ORDINALITY AS x(u, r, t, n) ORDER BY n"
      " ON CONFLICT DO NOTHING RETURNING user_id",
      app, id, pg::TextArray(users), pg::IntArray(roles), pg::IntArray(times)));
  if (!added.empty()) {
    tx.exec_params(
        "UPDATE groups SET member_count = member_count + $3 WHERE sdkappid = $1 AND group_id = $2",
        app, id, static_cast<int64_t>(added.size()));
  }
  return added;
}

std::vector<std::string> DeleteMembers(pqxx::work& tx, uint64_t app, const std::string& id,
                                       const std::vector<std::string>& users) {
  if (users.empty()) return {};
  auto removed = Column(tx.exec_params(
      "DELETE FROM group_members WHERE sdkappid = $1 AND group_id = $2"
      " AND user_id = ANY($3::text[]) RETURNING user_id",
      app, id, pg::TextArray(users)));
  if (!removed.empty()) {
    tx.exec_params(
        "UPDATE groups SET member_count = member_count - $3 WHERE sdkappid = $1 AND group_id = $2",
        app, id, static_cast<int64_t>(removed.size()));
    // Who leaves leaves their permission groups: a return starts with none.
    tx.exec_params(
        "DELETE FROM group_permission_members WHERE sdkappid = $1 AND group_id = $2"
        " AND user_id = ANY($3::text[])",
        app, id, pg::TextArray(removed));
  }
  return removed;
}

std::vector<MemberRow> Members(pqxx::work& tx, uint64_t app, const std::string& id,
                               const std::vector<std::string>& users, int64_t now) {
  std::vector<MemberRow> out;
  if (users.empty()) return out;
  auto rows = tx.exec_params(
      absl::StrCat("SELECT ", kMemberColumns,
                   " FROM group_members m LEFT JOIN group_mutes u ON u.sdkappid = m.sdkappid"
                   "  AND u.group_id = m.group_id AND u.user_id = m.user_id"
                   " WHERE m.sdkappid = $1 AND m.group_id = $2 AND m.user_id = ANY($4::text[])"
                   " ORDER BY m.serial"),
      app, id, now, pg::TextArray(users));
  for (const auto& row : rows) out.push_back(ReadMember(row));
  return out;
}

std::vector<MemberRow> MemberPage(pqxx::work& tx, uint64_t app, const std::string& id,
                                  const std::vector<Role>& roles, uint32_t offset, uint32_t limit,
                                  int64_t now) {
  auto rows = tx.exec_params(
      absl::StrCat("SELECT ", kMemberColumns,
                   " FROM group_members m LEFT JOIN group_mutes u ON u.sdkappid = m.sdkappid"
                   "  AND u.group_id = m.group_id AND u.user_id = m.user_id"
                   " WHERE m.sdkappid = $1 AND m.group_id = $2"
                   "  AND (cardinality($4::smallint[]) = 0 OR m.role = ANY($4::smallint[]))"
                   " ORDER BY m.serial OFFSET $5 LIMIT $6"),
      app, id, now, pg::IntArray(RoleValues(roles)), offset, limit);
  std::vector<MemberRow> out;
  for (const auto& row : rows) out.push_back(ReadMember(row));
  return out;
}

void SetRole(pqxx::work& tx, uint64_t app, const std::string& id, const std::string& user,
             Role role) {
  tx.exec_params(
      "UPDATE group_members SET role = $4 WHERE sdkappid = $1 AND group_id = $2 AND user_id = $3",
      app, id, user, static_cast<int>(role));
}

void SetMemberFields(pqxx::work& tx, uint64_t app, const std::string& id, const MemberRow& m) {
  tx.exec_params(
      "UPDATE group_members SET role = $4, msg_flag = $5, name_card = $6"
      " WHERE sdkappid = $1 AND group_id = $2 AND user_id = $3",
      app, id, m.user_id, static_cast<int>(m.role), static_cast<int>(m.msg_flag), m.name_card);
}

void SetMute(pqxx::work& tx, uint64_t app, const std::string& id, const std::string& user,
             int64_t mute_until) {
  if (mute_until == 0) {
    tx.exec_params(
        "DELETE FROM group_mutes WHERE sdkappid = $1 AND group_id = $2 AND user_id = $3", app,
        id, user);
    return;
  }
  tx.exec_params(
      "INSERT INTO group_mutes (sdkappid, group_id, user_id, mute_until) VALUES ($1, $2, $3, $4)"
      " ON CONFLICT (sdkappid, group_id, user_id) DO UPDATE SET mute_until = EXCLUDED.mute_until",
      app, id, user, mute_until);
}

std::vector<std::pair<std::string, int64_t>> Mutes(pqxx::work& tx, uint64_t app,
                                                   const std::string& id, int64_t now,
                                                   bool members_only) {
  auto rows = tx.exec_params(
      "SELECT u.user_id, u.mute_until FROM group_mutes u LEFT JOIN group_members m"
      " ON m.sdkappid = u.sdkappid AND m.group_id = u.group_id AND m.user_id = u.user_id"
      " WHERE u.sdkappid = $1 AND u.group_id = $2 AND u.mute_until > $3"
      " AND (m.user_id IS NOT NULL OR NOT $4) ORDER BY m.serial NULLS LAST, u.user_id",
      app, id, now, members_only);
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& row : rows) out.emplace_back(row[0].as<std::string>(), row[1].as<int64_t>());
  return out;
}

Attrs GetAttrs(pqxx::work& tx, uint64_t app, const std::string& id) {
  auto rows = tx.exec_params(
      "SELECT k, v FROM groups, jsonb_each_text(attrs) AS a(k, v)"
      " WHERE sdkappid = $1 AND group_id = $2",
      app, id);
  Attrs out;
  for (const auto& row : rows) out[row[0].as<std::string>()] = row[1].as<std::string>();
  return out;
}

namespace {

// A map's keys and values as two parallel columns, for unnest().
template <class V>
std::pair<std::vector<std::string>, std::vector<V>> Columns(const std::map<std::string, V>& map) {
  std::pair<std::vector<std::string>, std::vector<V>> out;
  for (const auto& [k, v] : map) {
    out.first.push_back(k);
    out.second.push_back(v);
  }
  return out;
}

}  // namespace

void PutAttrs(pqxx::work& tx, uint64_t app, const std::string& id, const Attrs& attrs) {
  auto [keys, values] = Columns(attrs);
  tx.exec_params(
      "UPDATE groups SET attrs = coalesce((SELECT jsonb_object_agg(k, v)"
      " FROM unnest($3::text[], $4::text[]) AS a(k, v)), '{}')"
      " WHERE sdkappid = $1 AND group_id = $2",
      app, id, pg::TextArray(keys), pg::TextArray(values));
}

Counters GetCounters(pqxx::work& tx, uint64_t app, const std::string& id,
                     const std::vector<std::string>& keys) {
  auto rows = tx.exec_params(
      "SELECT key, value FROM group_counters WHERE sdkappid = $1 AND group_id = $2"
      " AND (cardinality($3::text[]) = 0 OR key = ANY($3::text[]))",
      app, id, pg::TextArray(keys));
  Counters out;
  for (const auto& row : rows) out[row[0].as<std::string>()] = row[1].as<int64_t>();
  return out;
}

void PutCounters(pqxx::work& tx, uint64_t app, const std::string& id, const Counters& counters) {
  auto [keys, values] = Columns(counters);
  tx.exec_params(
      "INSERT INTO group_counters (sdkappid, group_id, key, value)"
      " SELECT $1, $2, k, v FROM unnest($3::text[], $4::bigint[]) AS c(k, v)"
      " ON CONFLICT (sdkappid, group_id, key) DO UPDATE SET value = EXCLUDED.value",
      app, id, pg::TextArray(keys), pg::IntArray(values));
}

void DeleteCounters(pqxx::work& tx, uint64_t app, const std::string& id,
                    const std::vector<std::string>& keys) {
  tx.exec_params(
      "DELETE FROM group_counters WHERE sdkappid = $1 AND group_id = $2 AND key = ANY($3::text[])",
      app, id, pg::TextArray(keys));
}

std::vector<GroupRow> AppGroups(pqxx::work& tx, uint64_t app, std::optional<GroupType> type,
                                int64_t after_serial, uint32_t limit, uint32_t* total) {
  int type_value = type ? static_cast<int>(*type) : 0;
  *total = tx.exec_params("SELECT count(*) FROM groups WHERE sdkappid = $1"
                          " AND ($2 = 0 OR type = $2)",
                          app, type_value)[0][0]
               .as<uint32_t>();
  auto rows = tx.exec_params(absl::StrCat("SELECT ", kGroupColumns,
                                          " FROM groups WHERE sdkappid = $1"
                                          " AND ($2 = 0 OR type = $2) AND serial > $3"
                                          " ORDER BY serial LIMIT $4"),
                             app, type_value, after_serial, limit);
  std::vector<GroupRow> out;
  for (const auto& row : rows) out.push_back(ReadGroup(row));
  return out;
}

std::vector<Joined> JoinedGroups(pqxx::work& tx, uint64_t app, const std::string& user,
                                 std::optional<GroupType> type, bool with_inactive,
                                 uint32_t offset, uint32_t limit, int64_t now, uint32_t* total) {
  int type_value = type ? static_cast<int>(*type) : 0;
  constexpr char kWhere[] =
      " FROM group_members m JOIN groups g ON g.sdkappid = m.sdkappid AND g.group_id = m.group_id"
      " LEFT JOIN group_mutes u ON u.sdkappid = m.sdkappid AND u.group_id = m.group_id"
      "  AND u.user_id = m.user_id"
      " WHERE m.sdkappid = $1 AND m.user_id = $2 AND ($4 = 0 OR g.type = $4)"
      "  AND ($5 OR g.activated)";
  *total = tx.exec_params(absl::StrCat("SELECT count(*)", kWhere, " AND $3::bigint IS NOT NULL"),
                          app, user, now, type_value, with_inactive)[0][0]
               .as<uint32_t>();
  std::string columns =
      absl::StrCat("g.", absl::StrReplaceAll(kGroupColumns, {{", ", ", g."}}), ", ");
  auto rows = tx.exec_params(absl::StrCat("SELECT ", columns, kMemberColumns, kWhere,
                                          " ORDER BY m.serial OFFSET $6 LIMIT $7"),
                             app, user, now, type_value, with_inactive, offset, limit);
  std::vector<Joined> out;
  for (const auto& row : rows) out.push_back({ReadGroup(row, 0), ReadMember(row, kGroupColumnCount)});
  return out;
}

void NoteTipSeq(pqxx::work& tx, uint64_t app, const std::string& id, int64_t seq) {
  tx.exec_params(
      "UPDATE groups SET next_msg_seq = GREATEST(next_msg_seq, $3 + 1)"
      " WHERE sdkappid = $1 AND group_id = $2 AND next_msg_seq <= $3",
      app, id, seq);
}

void NoteMessages(pqxx::work& tx, uint64_t app, const std::vector<MessageNote>& notes) {
  std::map<std::string, std::pair<int64_t, int64_t>> groups;                 // time, seq
  std::map<std::pair<std::string, std::string>, int64_t> senders;            // time
  std::map<std::string, std::pair<int64_t, int64_t>> topics;                 // time, seq
  for (const auto& n : notes) {
    // A topic's message: the topic's seq, the community's time and sender.
    std::string community(delivery::CommunityOf(n.group_id));
    const std::string& group = community.empty() ? n.group_id : community;
    auto& g = groups[group];
    g.first = std::max(g.first, n.msg_time);
    if (community.empty()) {
      g.second = std::max(g.second, n.msg_seq);
    } else {
      auto& t = topics[n.group_id];
      t.first = std::max(t.first, n.msg_time);
      t.second = std::max(t.second, n.msg_seq);
    }
    auto& t = senders[{group, n.from}];
    t = std::max(t, n.msg_time);
  }
  if (groups.empty()) return;
  std::vector<std::string> ids, member_groups, member_users;
  std::vector<int64_t> times, seqs, send_times;
  for (const auto& [id, g] : groups) {
    ids.push_back(id);
    times.push_back(g.first);
    seqs.push_back(g.second);
  }
  for (const auto& [key, t] : senders) {
    member_groups.push_back(key.first);
    member_users.push_back(key.second);
    send_times.push_back(t);
  }
  std::string id_array = pg::TextArray(ids);
  pg::ExecPrepared(tx, "group_note_lock",
                   "SELECT 1 FROM groups WHERE sdkappid = $1 AND group_id = ANY($2::text[])"
                   " ORDER BY group_id FOR UPDATE",
                   app, id_array);
  pg::ExecPrepared(tx, "group_note_groups",
                   "UPDATE groups g SET activated = true,"
                   " last_msg_time = GREATEST(g.last_msg_time, u.t),"
                   " next_msg_seq = GREATEST(g.next_msg_seq, u.seq + 1)"
                   " FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS u(grp, t, seq)"
                   " WHERE g.sdkappid = $1 AND g.group_id = u.grp",
                   app, id_array, pg::IntArray(times), pg::IntArray(seqs));
  pg::ExecPrepared(tx, "group_note_senders",
                   "UPDATE group_members m SET last_send_time = GREATEST(m.last_send_time, u.t)"
                   " FROM unnest($2::text[], $3::text[], $4::bigint[]) AS u(grp, usr, t)"
                   " WHERE m.sdkappid = $1 AND m.group_id = u.grp AND m.user_id = u.usr"
                   " AND m.last_send_time < u.t",
                   app, pg::TextArray(member_groups), pg::TextArray(member_users),
                   pg::IntArray(send_times));
  std::vector<std::string> topic_ids;
  std::vector<int64_t> topic_times, topic_seqs;
  for (const auto& [id, t] : topics) {
    topic_ids.push_back(id);
    topic_times.push_back(t.first);
    topic_seqs.push_back(t.second);
  }
  NoteTopicMessages(tx, app, topic_ids, topic_times, topic_seqs);
}

void PutJoinRequest(pqxx::work& tx, uint64_t app, const std::string& id, const JoinRequestRow& r) {
  tx.exec_params(
      "INSERT INTO group_join_requests (sdkappid, group_id, user_id, message, apply_time)"
      " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sdkappid, group_id, user_id)"
      " DO UPDATE SET message = EXCLUDED.message, apply_time = EXCLUDED.apply_time",
      app, id, r.user_id, r.message, r.apply_time);
}

std::vector<JoinRequestRow> JoinRequests(pqxx::work& tx, uint64_t app, const std::string& id) {
  std::vector<JoinRequestRow> out;
  for (const auto& row : tx.exec_params(
           "SELECT user_id, message, apply_time FROM group_join_requests"
           " WHERE sdkappid = $1 AND group_id = $2 ORDER BY apply_time, user_id LIMIT 1000",
           app, id)) {
    out.push_back({row[0].c_str(), row[1].c_str(), row[2].as<int64_t>()});
  }
  return out;
}

bool TakeJoinRequest(pqxx::work& tx, uint64_t app, const std::string& id, const std::string& user) {
  return tx.exec_params(
               "DELETE FROM group_join_requests WHERE sdkappid = $1 AND group_id = $2"
               " AND user_id = $3",
               app, id, user)
             .affected_rows() > 0;
}

namespace {

CustomData DataOf(const pqxx::field& field) {
  CustomData data;
  auto json = nlohmann::json::parse(field.c_str(), nullptr, false);
  if (!json.is_object()) return data;
  for (auto& [key, value] : json.items()) {
    if (value.is_string()) data[key] = value.get<std::string>();
  }
  return data;
}

std::string JsonOf(const CustomData& data) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [key, value] : data) json[key] = value;
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

AppFields GetAppFields(pqxx::work& tx, uint64_t app) {
  AppFields fields;
  auto rows = tx.exec_params(
      "SELECT group_keys, member_keys, room_msg_rate_limit, room_recent_count"
      " FROM group_app_fields WHERE sdkappid = $1",
      app);
  if (rows.empty()) return fields;
  fields.group_keys = pg::TextList(rows[0][0]);
  fields.member_keys = pg::TextList(rows[0][1]);
  fields.room_msg_rate_limit = rows[0][2].as<uint32_t>();
  fields.room_recent_count = rows[0][3].as<uint32_t>();
  return fields;
}

void PutAppFields(pqxx::work& tx, uint64_t app, const AppFields& fields) {
  tx.exec_params(
      "INSERT INTO group_app_fields (sdkappid, group_keys, member_keys, room_msg_rate_limit,"
      " room_recent_count) VALUES ($1, $2::text[], $3::text[], $4, $5) ON CONFLICT (sdkappid)"
      " DO UPDATE SET group_keys = EXCLUDED.group_keys, member_keys = EXCLUDED.member_keys,"
      " room_msg_rate_limit = EXCLUDED.room_msg_rate_limit,"
      " room_recent_count = EXCLUDED.room_recent_count",
      app, pg::TextArray(fields.group_keys), pg::TextArray(fields.member_keys),
      fields.room_msg_rate_limit, fields.room_recent_count);
}

CustomData GroupData(pqxx::work& tx, uint64_t app, const std::string& id) {
  auto rows = tx.exec_params(
      "SELECT app_defined FROM groups WHERE sdkappid = $1 AND group_id = $2", app, id);
  return rows.empty() ? CustomData() : DataOf(rows[0][0]);
}

void PutGroupData(pqxx::work& tx, uint64_t app, const std::string& id, const CustomData& data) {
  tx.exec_params("UPDATE groups SET app_defined = $3::jsonb WHERE sdkappid = $1 AND group_id = $2",
                 app, id, JsonOf(data));
}

std::map<std::string, CustomData> MemberData(pqxx::work& tx, uint64_t app, const std::string& id,
                                             const std::vector<std::string>& users) {
  std::map<std::string, CustomData> out;
  for (const auto& row : tx.exec_params(
           "SELECT user_id, app_defined FROM group_members WHERE sdkappid = $1 AND group_id = $2"
           " AND user_id = ANY($3::text[]) AND app_defined <> '{}'",
           app, id, pg::TextArray(users))) {
    out[row[0].c_str()] = DataOf(row[1]);
  }
  return out;
}

void PutMemberData(pqxx::work& tx, uint64_t app, const std::string& id, const std::string& user,
                   const CustomData& data) {
  tx.exec_params(
      "UPDATE group_members SET app_defined = $4::jsonb"
      " WHERE sdkappid = $1 AND group_id = $2 AND user_id = $3",
      app, id, user, JsonOf(data));
}

}  // namespace parley::group::store
