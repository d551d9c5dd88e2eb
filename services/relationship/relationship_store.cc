#include "relationship_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "parley/pg/pool.h"

namespace parley::relationship::store {
namespace {

constexpr char kFriendColumns[] =
    "friend_id, remark, groups, add_source, add_wording, add_time, remark_time, custom::text";

FriendRow ReadFriend(const pqxx::row& row) {
  FriendRow f;
  f.friend_id = row[0].as<std::string>();
  f.remark = row[1].as<std::string>();
  f.groups = pg::TextList(row[2]);
  f.add_source = row[3].as<std::string>();
  f.add_wording = row[4].as<std::string>();
  f.add_time = row[5].as<int64_t>();
  f.remark_time = row[6].as<int64_t>();
  f.custom_json = row[7].as<std::string>();
  return f;
}

PendingRequest ReadRequest(const pqxx::row& row) {
  PendingRequest r;
  r.from_id = row["from_id"].as<std::string>();
  r.to_id = row["to_id"].as<std::string>();
  r.add_source = row["add_source"].as<std::string>();
  r.add_wording = row["add_wording"].as<std::string>();
  r.remark = row["remark"].as<std::string>();
  r.group_name = row["group_name"].as<std::string>();
  r.add_type = row["add_type"].as<std::string>();
  r.created_at = row["created_at"].as<int64_t>();
  return r;
}

constexpr char kRequestColumns[] =
    "from_id, to_id, add_source, add_wording, remark, group_name, add_type, created_at";

std::set<std::string> Column(const pqxx::result& rows) {
  std::set<std::string> out;
  for (const auto& row : rows) out.insert(row[0].as<std::string>());
  return out;
}

std::map<std::string, uint32_t> Counts(const pqxx::result& rows) {
  std::map<std::string, uint32_t> out;
  for (const auto& row : rows) out[row[0].as<std::string>()] = row[1].as<uint32_t>();
  return out;
}

// One direction of a pair table (rel_friends: owner_id -> friend_id,
// rel_blocks: owner_id -> blocked_id): which of `candidates` stand on the
// `want` side of a row whose `have` side is `user`.
std::set<std::string> Linked(pqxx::transaction_base& tx, const char* table, const char* have,
                             const char* want, uint64_t app, const std::string& user,
                             const std::vector<std::string>& candidates) {
  return Column(tx.exec_params(absl::StrCat("SELECT ", want, " FROM ", table,
                                            " WHERE sdkappid = $1 AND ", have, " = $2 AND ", want,
                                            " = ANY($3::text[])"),
                               app, user, pg::TextArray(candidates)));
}

const char* SeqColumn(ListSeq seq) {
  switch (seq) {
    case ListSeq::kFriends: return "friend_seq";
    case ListSeq::kBlocks: return "block_seq";
    case ListSeq::kFriendGroups: return "group_seq";
  }
  return "friend_seq";
}

const char* DirectionWhere(Direction direction) {
  switch (direction) {
    case Direction::kIncoming: return "to_id = $2";
    case Direction::kOutgoing: return "from_id = $2";
    case Direction::kBoth: return "(to_id = $2 OR from_id = $2)";
  }
  return "to_id = $2";
}

}  // namespace

// ---- settings and users ----------------------------------------------------

Settings LoadSettings(pqxx::transaction_base& tx, uint64_t app) {
  Settings s;
  auto rows = tx.exec_params(
      "SELECT friend_limit, pending_limit, blocklist_limit, check_friendship, admin_send_any,"
      " profile_custom_tags, sns_custom_tags FROM rel_settings WHERE sdkappid = $1",
      app);
  if (rows.empty()) return s;
  s.friend_limit = rows[0][0].as<uint32_t>();
  s.pending_limit = rows[0][1].as<uint32_t>();
  s.blocklist_limit = rows[0][2].as<uint32_t>();
  s.check_friendship = rows[0][3].as<bool>();
  s.admin_send_any = rows[0][4].as<bool>();
  for (auto& t : pg::TextList(rows[0][5])) s.profile_custom.insert(std::move(t));
  for (auto& t : pg::TextList(rows[0][6])) s.sns_custom.insert(std::move(t));
  return s;
}

void SaveSettings(pqxx::work& tx, const v1::RelationshipSettings& update) {
  auto optional_int = [](bool has, uint32_t value) {
    return has ? std::to_string(value) : std::string();
  };
  auto optional_bool = [](bool has, bool value) {
    return has ? std::string(value ? "true" : "false") : std::string();
  };
  tx.exec_params("INSERT INTO rel_settings (sdkappid) VALUES ($1) ON CONFLICT DO NOTHING",
                 update.sdkappid());
  tx.exec_params(
      "UPDATE rel_settings SET"
      " friend_limit = coalesce(NULLIF($2, '')::int, friend_limit),"
      " pending_limit = coalesce(NULLIF($3, '')::int, pending_limit),"
      " blocklist_limit = coalesce(NULLIF($4, '')::int, blocklist_limit),"
      " check_friendship = coalesce(NULLIF($5, '')::boolean, check_friendship),"
      " admin_send_any = coalesce(NULLIF($6, '')::boolean, admin_send_any),"
      " profile_custom_tags = CASE WHEN $9 THEN '{}' WHEN cardinality($7::text[]) > 0"
      "   THEN $7::text[] ELSE profile_custom_tags END,"
      " sns_custom_tags = CASE WHEN $9 THEN '{}' WHEN cardinality($8::text[]) > 0"
      "   THEN $8::text[] ELSE sns_custom_tags END"
      " WHERE sdkappid = $1",
      update.sdkappid(), optional_int(update.has_friend_limit(), update.friend_limit()),
      optional_int(update.has_pending_limit(), update.pending_limit()),
      optional_int(update.has_blocklist_limit(), update.blocklist_limit()),
      optional_bool(update.has_check_friendship(), update.check_friendship()),
      optional_bool(update.has_admin_send_any(), update.admin_send_any()),
      pg::TextArray({update.profile_custom_tags().begin(), update.profile_custom_tags().end()}),
      pg::TextArray({update.sns_custom_tags().begin(), update.sns_custom_tags().end()}),
      update.clear_custom_tags());
}

void LockUsers(pqxx::work& tx, uint64_t app, std::vector<std::string> users) {
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  std::string array = pg::TextArray(users);
  tx.exec_params(
      "INSERT INTO rel_users (sdkappid, user_id) SELECT $1, u FROM unnest($2::text[]) u"
      " ORDER BY u ON CONFLICT DO NOTHING",
      app, array);
  tx.exec_params(
      "SELECT 1 FROM rel_users WHERE sdkappid = $1 AND user_id = ANY($2::text[])"
      " ORDER BY user_id FOR UPDATE",
      app, array);
}

void BumpSeq(pqxx::work& tx, uint64_t app, const std::string& user, ListSeq seq) {
  const char* column = SeqColumn(seq);
  tx.exec_params(absl::StrCat("UPDATE rel_users SET ", column, " = ", column,
                              " + 1 WHERE sdkappid = $1 AND user_id = $2"),
                 app, user);
}

uint64_t CurrentSeq(pqxx::transaction_base& tx, uint64_t app, const std::string& user,
                    ListSeq seq) {
  auto rows = tx.exec_params(absl::StrCat("SELECT ", SeqColumn(seq),
                                          " FROM rel_users WHERE sdkappid = $1 AND user_id = $2"),
                             app, user);
  return rows.empty() ? 0 : rows[0][0].as<uint64_t>();
}

// ---- who has whom ----------------------------------------------------------

std::set<std::string> FriendsOf(pqxx::transaction_base& tx, uint64_t app, const std::string& owner,
                                const std::vector<std::string>& others) {
  return Linked(tx, "rel_friends", "owner_id", "friend_id", app, owner, others);
}

std::set<std::string> HavingFriend(pqxx::transaction_base& tx, uint64_t app,
                                   const std::string& user, const std::vector<std::string>& owners) {
  return Linked(tx, "rel_friends", "friend_id", "owner_id", app, user, owners);
}

std::set<std::string> BlockedBy(pqxx::transaction_base& tx, uint64_t app, const std::string& owner,
                                const std::vector<std::string>& others) {
  return Linked(tx, "rel_blocks", "owner_id", "blocked_id", app, owner, others);
}

std::set<std::string> Blocking(pqxx::transaction_base& tx, uint64_t app, const std::string& user,
                               const std::vector<std::string>& owners) {
  return Linked(tx, "rel_blocks", "blocked_id", "owner_id", app, user, owners);
}

std::map<std::string, uint32_t> FriendCounts(pqxx::transaction_base& tx, uint64_t app,
                                             const std::vector<std::string>& owners) {
  return Counts(tx.exec_params(
      "SELECT owner_id, count(*) FROM rel_friends WHERE sdkappid = $1"
      " AND owner_id = ANY($2::text[]) GROUP BY owner_id",
      app, pg::TextArray(owners)));
}

std::map<std::string, uint32_t> PendingCounts(pqxx::transaction_base& tx, uint64_t app,
                                              const std::vector<std::string>& users) {
  return Counts(tx.exec_params(
      "SELECT to_id, count(*) FROM rel_requests WHERE sdkappid = $1"
      " AND to_id = ANY($2::text[]) GROUP BY to_id",
      app, pg::TextArray(users)));
}

std::vector<std::string> OwnersHavingFriend(pqxx::transaction_base& tx, uint64_t app,
                                            const std::string& user) {
  std::vector<std::string> out;
  for (const auto& row : tx.exec_params(
           "SELECT owner_id FROM rel_friends WHERE sdkappid = $1 AND friend_id = $2", app, user)) {
    out.push_back(row[0].as<std::string>());
  }
  return out;
}

// ---- friends ---------------------------------------------------------------

void InsertFriend(pqxx::work& tx, uint64_t app, const std::string& owner, const FriendRow& row) {
  tx.exec_params(
      "INSERT INTO rel_friends (sdkappid, owner_id, friend_id, remark, remark_time, groups,"
      " add_source, add_wording, add_time, custom)"
      " VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8, $9, $10::jsonb) ON CONFLICT DO NOTHING",
      app, owner, row.friend_id, row.remark, row.remark_time, pg::TextArray(row.groups),
      row.add_source, row.add_wording, row.add_time, row.custom_json);
  EnsureFriendGroups(tx, app, owner, row.groups);
  BumpSeq(tx, app, owner, ListSeq::kFriends);
}

bool DeleteFriend(pqxx::work& tx, uint64_t app, const std::string& owner,
                  const std::string& friend_id) {
  auto rows = tx.exec_params(
      "DELETE FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2 AND friend_id = $3"
      " RETURNING 1",
      app, owner, friend_id);
  if (rows.empty()) return false;
  BumpSeq(tx, app, owner, ListSeq::kFriends);
  return true;
}

void DeleteAllFriends(pqxx::work& tx, uint64_t app, const std::string& owner) {
  tx.exec_params("DELETE FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2", app, owner);
  BumpSeq(tx, app, owner, ListSeq::kFriends);
}

std::optional<FriendRow> Friend(pqxx::transaction_base& tx, uint64_t app, const std::string& owner,
                                const std::string& friend_id) {
  auto found = Friends(tx, app, owner, {friend_id});
  if (found.empty()) return std::nullopt;
  return std::move(found.begin()->second);
}

std::map<std::string, FriendRow> Friends(pqxx::transaction_base& tx, uint64_t app,
                                         const std::string& owner,
                                         const std::vector<std::string>& others) {
  std::map<std::string, FriendRow> out;
  for (const auto& row :
       tx.exec_params(absl::StrCat("SELECT ", kFriendColumns,
                                   " FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2"
                                   " AND friend_id = ANY($3::text[])"),
                      app, owner, pg::TextArray(others))) {
    FriendRow f = ReadFriend(row);
    std::string id = f.friend_id;
    out.emplace(std::move(id), std::move(f));
  }
  return out;
}

std::vector<FriendRow> FriendPage(pqxx::transaction_base& tx, uint64_t app,
                                  const std::string& owner, uint32_t offset, uint32_t limit) {
  std::vector<FriendRow> page;
  for (const auto& row :
       tx.exec_params(absl::StrCat("SELECT ", kFriendColumns,
                                   " FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2"
                                   " ORDER BY friend_id OFFSET $3 LIMIT $4"),
                      app, owner, offset, limit)) {
    page.push_back(ReadFriend(row));
  }
  return page;
}

std::vector<std::string> FriendIds(pqxx::transaction_base& tx, uint64_t app,
                                   const std::string& owner) {
  auto sorted = Column(tx.exec_params(
      "SELECT friend_id FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2", app, owner));
  return {sorted.begin(), sorted.end()};
}

uint32_t FriendCount(pqxx::transaction_base& tx, uint64_t app, const std::string& owner) {
  return tx.exec_params("SELECT count(*) FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2",
                        app, owner)[0][0]
      .as<uint32_t>();
}

void UpdateFriend(pqxx::work& tx, uint64_t app, const std::string& owner, const FriendRow& row) {
  tx.exec_params(
      "UPDATE rel_friends SET remark = $4, remark_time = $5, groups = $6::text[],"
      " custom = $7::jsonb WHERE sdkappid = $1 AND owner_id = $2 AND friend_id = $3",
      app, owner, row.friend_id, row.remark, row.remark_time, pg::TextArray(row.groups),
      row.custom_json);
  BumpSeq(tx, app, owner, ListSeq::kFriends);
}

// ---- friend lists ----------------------------------------------------------

void EnsureFriendGroups(pqxx::work& tx, uint64_t app, const std::string& owner,
                        const std::vector<std::string>& names) {
  if (names.empty()) return;
  tx.exec_params(
      "INSERT INTO rel_friend_groups (sdkappid, owner_id, name) SELECT $1, $2, unnest($3::text[])"
      " ON CONFLICT DO NOTHING",
      app, owner, pg::TextArray(names));
  BumpSeq(tx, app, owner, ListSeq::kFriendGroups);
}

uint32_t FriendGroupCountAfter(pqxx::transaction_base& tx, uint64_t app, const std::string& owner,
                               const std::vector<std::string>& adding) {
  auto rows = tx.exec_params(
      "SELECT count(*) FROM (SELECT name FROM rel_friend_groups WHERE sdkappid = $1"
      " AND owner_id = $2 UNION SELECT unnest($3::text[])) g",
      app, owner, pg::TextArray(adding));
  return rows[0][0].as<uint32_t>();
}

void AddToFriendGroups(pqxx::work& tx, uint64_t app, const std::string& owner,
                       const std::string& friend_id, const std::vector<std::string>& names) {
  tx.exec_params(
      "UPDATE rel_friends SET groups = ARRAY(SELECT DISTINCT unnest(groups || $4::text[])"
      " ORDER BY 1) WHERE sdkappid = $1 AND owner_id = $2 AND friend_id = $3",
      app, owner, friend_id, pg::TextArray(names));
}

std::vector<std::string> DeleteFriendGroups(pqxx::work& tx, uint64_t app, const std::string& owner,
                                            const std::vector<std::string>& names) {
  auto removed = Column(tx.exec_params(
      "DELETE FROM rel_friend_groups WHERE sdkappid = $1 AND owner_id = $2"
      " AND name = ANY($3::text[]) RETURNING name",
      app, owner, pg::TextArray(names)));
  if (removed.empty()) return {};
  tx.exec_params(
      "UPDATE rel_friends SET groups = ARRAY(SELECT g FROM unnest(groups) g"
      " WHERE g <> ALL($3::text[])) WHERE sdkappid = $1 AND owner_id = $2"
      " AND groups && $3::text[]",
      app, owner, pg::TextArray(names));
  BumpSeq(tx, app, owner, ListSeq::kFriendGroups);
  return {removed.begin(), removed.end()};
}

std::vector<std::string> FriendGroupNames(pqxx::transaction_base& tx, uint64_t app,
                                          const std::string& owner) {
  std::vector<std::string> out;
  for (const auto& row : tx.exec_params(
           "SELECT name FROM rel_friend_groups WHERE sdkappid = $1 AND owner_id = $2 ORDER BY name",
           app, owner)) {
    out.push_back(row[0].as<std::string>());
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> FriendGroupMembers(pqxx::transaction_base& tx,
                                                                    uint64_t app,
                                                                    const std::string& owner) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& row : tx.exec_params(
           "SELECT g, friend_id FROM rel_friends, unnest(groups) g WHERE sdkappid = $1"
           " AND owner_id = $2 ORDER BY g, friend_id",
           app, owner)) {
    out.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
  }
  return out;
}

// ---- pending requests ------------------------------------------------------

void UpsertRequest(pqxx::work& tx, uint64_t app, const PendingRequest& r) {
  tx.exec_params(
      "INSERT INTO rel_requests (sdkappid, from_id, to_id, add_source, add_wording, remark,"
      " group_name, add_type, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
      " ON CONFLICT (sdkappid, to_id, from_id) DO UPDATE SET add_source = EXCLUDED.add_source,"
      " add_wording = EXCLUDED.add_wording, remark = EXCLUDED.remark,"
      " group_name = EXCLUDED.group_name, add_type = EXCLUDED.add_type,"
      " created_at = EXCLUDED.created_at",
      app, r.from_id, r.to_id, r.add_source, r.add_wording, r.remark, r.group_name, r.add_type,
      r.created_at);
}

std::optional<PendingRequest> TakeRequest(pqxx::work& tx, uint64_t app, const std::string& from,
                                          const std::string& to) {
  auto rows = tx.exec_params(
      absl::StrCat("DELETE FROM rel_requests WHERE sdkappid = $1 AND from_id = $2 AND to_id = $3"
                   " RETURNING ",
                   kRequestColumns),
      app, from, to);
  if (rows.empty()) return std::nullopt;
  return ReadRequest(rows[0]);
}

void DeleteRequestsBetween(pqxx::work& tx, uint64_t app, const std::string& a,
                           const std::string& b) {
  tx.exec_params(
      "DELETE FROM rel_requests WHERE sdkappid = $1 AND ((from_id = $2 AND to_id = $3)"
      " OR (from_id = $3 AND to_id = $2))",
      app, a, b);
}

PendencyPage Pendencies(pqxx::transaction_base& tx, uint64_t app, const std::string& user,
                        Direction direction, uint32_t offset, uint32_t limit) {
  PendencyPage page;
  const char* where = DirectionWhere(direction);
  for (const auto& row : tx.exec_params(
           absl::StrCat("SELECT ", kRequestColumns, " FROM rel_requests WHERE sdkappid = $1 AND ",
                        where, " ORDER BY created_at DESC, from_id, to_id OFFSET $3 LIMIT $4"),
           app, user, offset, limit)) {
    page.items.push_back(ReadRequest(row));
  }
  page.total = tx.exec_params(
                     absl::StrCat("SELECT count(*) FROM rel_requests WHERE sdkappid = $1 AND ",
                                  where),
                     app, user)[0][0]
                   .as<uint32_t>();
  auto read = tx.exec_params(
      "SELECT pendency_read_time FROM rel_users WHERE sdkappid = $1 AND user_id = $2", app, user);
  if (!read.empty()) page.read_time = read[0][0].as<int64_t>();
  page.unread = tx.exec_params(
                      "SELECT count(*) FROM rel_requests WHERE sdkappid = $1 AND to_id = $2"
                      " AND created_at > $3",
                      app, user, page.read_time)[0][0]
                    .as<uint32_t>();
  return page;
}

void MarkPendenciesRead(pqxx::work& tx, uint64_t app, const std::string& user, int64_t read_time) {
  tx.exec_params(
      "UPDATE rel_users SET pendency_read_time = greatest(pendency_read_time, $3)"
      " WHERE sdkappid = $1 AND user_id = $2",
      app, user, read_time);
}

// ---- blocklist -------------------------------------------------------------

uint32_t BlockCount(pqxx::transaction_base& tx, uint64_t app, const std::string& owner) {
  return tx.exec_params("SELECT count(*) FROM rel_blocks WHERE sdkappid = $1 AND owner_id = $2",
                        app, owner)[0][0]
      .as<uint32_t>();
}

void InsertBlock(pqxx::work& tx, uint64_t app, const std::string& owner,
                 const std::string& blocked, int64_t now) {
  tx.exec_params(
      "INSERT INTO rel_blocks (sdkappid, owner_id, blocked_id, added_at) VALUES ($1, $2, $3, $4)",
      app, owner, blocked, now);
}

std::set<std::string> DeleteBlocks(pqxx::work& tx, uint64_t app, const std::string& owner,
                                   const std::vector<std::string>& blocked) {
  return Column(tx.exec_params(
      "DELETE FROM rel_blocks WHERE sdkappid = $1 AND owner_id = $2"
      " AND blocked_id = ANY($3::text[]) RETURNING blocked_id",
      app, owner, pg::TextArray(blocked)));
}

std::vector<std::pair<std::string, int64_t>> BlockPage(pqxx::transaction_base& tx, uint64_t app,
                                                       const std::string& owner, uint32_t offset,
                                                       uint32_t limit) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& row : tx.exec_params(
           "SELECT blocked_id, added_at FROM rel_blocks WHERE sdkappid = $1 AND owner_id = $2"
           " ORDER BY added_at, blocked_id OFFSET $3 LIMIT $4",
           app, owner, offset, limit)) {
    out.emplace_back(row[0].as<std::string>(), row[1].as<int64_t>());
  }
  return out;
}

// ---- profiles --------------------------------------------------------------

std::map<std::string, std::string> ProfileTexts(pqxx::transaction_base& tx, uint64_t app,
                                                const std::vector<std::string>& users,
                                                const std::string& tag) {
  std::map<std::string, std::string> out;
  for (const auto& row : tx.exec_params(
           "SELECT user_id, profile->>$3 FROM rel_users WHERE sdkappid = $1"
           " AND user_id = ANY($2::text[]) AND profile ? $3",
           app, pg::TextArray(users), tag)) {
    out[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  return out;
}

std::map<std::string, std::map<std::string, nlohmann::json>> ProfileTags(
    pqxx::transaction_base& tx, uint64_t app, const std::vector<std::string>& users,
    const std::vector<std::string>& tags) {
  std::map<std::string, std::map<std::string, nlohmann::json>> out;
  for (const auto& row : tx.exec_params(
           "SELECT u.user_id, t.key, t.value::text FROM rel_users u, jsonb_each(u.profile) t"
           " WHERE u.sdkappid = $1 AND u.user_id = ANY($2::text[]) AND t.key = ANY($3::text[])",
           app, pg::TextArray(users), pg::TextArray(tags))) {
    auto value = nlohmann::json::parse(row[2].c_str(), nullptr, false);
    if (!value.is_discarded()) {
      out[row[0].as<std::string>()][row[1].as<std::string>()] = std::move(value);
    }
  }
  return out;
}

void MergeProfile(pqxx::work& tx, uint64_t app, const std::string& user,
                  const std::string& values_json) {
  tx.exec_params(
      "UPDATE rel_users SET profile = profile || $3::jsonb WHERE sdkappid = $1 AND user_id = $2",
      app, user, values_json);
}

// ---- internal --------------------------------------------------------------

std::map<std::string, std::vector<std::string>> ForgetUsers(pqxx::work& tx, uint64_t app,
                                                            const std::vector<std::string>& users) {
  std::string gone = pg::TextArray(users);
  // Everyone whose lists change is locked with the users themselves.
  auto owners = Column(tx.exec_params(
      "SELECT owner_id FROM rel_friends WHERE sdkappid = $1 AND friend_id = ANY($2::text[])"
      " UNION SELECT owner_id FROM rel_blocks WHERE sdkappid = $1 AND blocked_id = ANY($2::text[])",
      app, gone));
  std::vector<std::string> locked(owners.begin(), owners.end());
  locked.insert(locked.end(), users.begin(), users.end());
  LockUsers(tx, app, locked);
  std::map<std::string, std::vector<std::string>> lost;  // owner -> deleted friends
  for (const auto& row : tx.exec_params(
           "DELETE FROM rel_friends WHERE sdkappid = $1 AND (owner_id = ANY($2::text[])"
           " OR friend_id = ANY($2::text[])) RETURNING owner_id, friend_id",
           app, gone)) {
    lost[row[0].as<std::string>()].push_back(row[1].as<std::string>());
  }
  tx.exec_params(
      "DELETE FROM rel_blocks WHERE sdkappid = $1 AND (owner_id = ANY($2::text[])"
      " OR blocked_id = ANY($2::text[]))",
      app, gone);
  tx.exec_params(
      "DELETE FROM rel_requests WHERE sdkappid = $1 AND (from_id = ANY($2::text[])"
      " OR to_id = ANY($2::text[]))",
      app, gone);
  tx.exec_params("DELETE FROM rel_friend_groups WHERE sdkappid = $1 AND owner_id = ANY($2::text[])",
                 app, gone);
  tx.exec_params("DELETE FROM rel_users WHERE sdkappid = $1 AND user_id = ANY($2::text[])", app,
                 gone);
  std::set<std::string> deleted(users.begin(), users.end());
  std::map<std::string, std::vector<std::string>> remaining;
  for (const auto& owner : owners) {
    if (deleted.count(owner)) continue;
    tx.exec_params(
        "UPDATE rel_users SET friend_seq = friend_seq + 1, block_seq = block_seq + 1"
        " WHERE sdkappid = $1 AND user_id = $2",
        app, owner);
    remaining[owner] = std::move(lost[owner]);
  }
  return remaining;
}

v1::CheckSendPermissionResponse SendFacts(pqxx::transaction_base& tx, uint64_t app,
                                          const std::string& from, const std::string& to) {
  auto rows = tx.exec_params(
      "SELECT"
      " EXISTS (SELECT 1 FROM rel_blocks WHERE sdkappid = $1 AND owner_id = $3"
      "   AND blocked_id = $2),"
      " EXISTS (SELECT 1 FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2"
      "   AND friend_id = $3),"
      " EXISTS (SELECT 1 FROM rel_friends WHERE sdkappid = $1 AND owner_id = $3"
      "   AND friend_id = $2),"
      " coalesce((SELECT check_friendship FROM rel_settings WHERE sdkappid = $1), false),"
      " coalesce((SELECT admin_send_any FROM rel_settings WHERE sdkappid = $1), true)",
      app, from, to);
  v1::CheckSendPermissionResponse facts;
  facts.set_recipient_blocked_sender(rows[0][0].as<bool>());
  facts.set_sender_has_recipient(rows[0][1].as<bool>());
  facts.set_recipient_has_sender(rows[0][2].as<bool>());
  facts.set_check_friendship(rows[0][3].as<bool>());
  facts.set_admin_send_any(rows[0][4].as<bool>());
  return facts;
}

}  // namespace parley::relationship::store
