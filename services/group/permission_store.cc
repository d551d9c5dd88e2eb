#include "permission_store.h"

#include "group_store.h"

#include "absl/strings/str_cat.h"
#include "parley/pg/pool.h"

namespace parley::group::store {
namespace {

constexpr char kPermissionGroupColumns[] =
    "p.pg_id, p.name, p.custom_string, p.permission, p.serial,"
    " (SELECT count(*) FROM group_permission_members m WHERE m.sdkappid = p.sdkappid"
    "  AND m.group_id = p.group_id AND m.pg_id = p.pg_id)";

PermissionGroupRow ReadPermissionGroup(const pqxx::row& row) {
  PermissionGroupRow p;
  p.id = row[0].as<std::string>();
  p.name = row[1].as<std::string>();
  p.custom_string = row[2].as<std::string>();
  p.permission = row[3].as<uint32_t>();
  p.serial = row[4].as<int64_t>();
  p.member_num = row[5].as<uint32_t>();
  return p;
}

}  // namespace

bool InsertPermissionGroup(pqxx::work& tx, uint64_t app, const std::string& group,
                           const PermissionGroupRow& row) {
  return !tx.exec_params(
                "INSERT INTO group_permission_groups (sdkappid, group_id, pg_id, name, permission,"
                " custom_string) VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT DO NOTHING RETURNING 1",
                app, group, row.id, row.name, static_cast<int64_t>(row.permission),
                row.custom_string)
              .empty();
}

std::optional<PermissionGroupRow> PermissionGroup(pqxx::work& tx, uint64_t app,
                                                  const std::string& group,
                                                  const std::string& id) {
  auto rows = PermissionGroups(tx, app, group, {id}, 0, 1);
  if (rows.empty()) return std::nullopt;
  return rows[0];
}

std::vector<PermissionGroupRow> PermissionGroups(pqxx::work& tx, uint64_t app,
                                                 const std::string& group,
                                                 const std::vector<std::string>& ids,
                                                 int64_t after_serial, uint32_t limit) {
  auto rows = tx.exec_params(
      absl::StrCat("SELECT ", kPermissionGroupColumns,
                   " FROM group_permission_groups p WHERE p.sdkappid = $1 AND p.group_id = $2"
                   " AND ($3::text[] IS NULL OR p.pg_id = ANY($3::text[])) AND p.serial > $4"
                   " ORDER BY p.serial LIMIT $5"),
      app, group, ids.empty() ? std::optional<std::string>() : pg::TextArray(ids), after_serial,
      static_cast<int64_t>(limit));
  std::vector<PermissionGroupRow> out;
  for (const auto& row : rows) out.push_back(ReadPermissionGroup(row));
  return out;
}

uint32_t PermissionGroupCount(pqxx::work& tx, uint64_t app, const std::string& group) {
  return tx.exec_params(
               "SELECT count(*) FROM group_permission_groups WHERE sdkappid = $1 AND group_id = $2",
               app, group)[0][0]
      .as<uint32_t>();
}

void UpdatePermissionGroup(pqxx::work& tx, uint64_t app, const std::string& group,
                           const PermissionGroupRow& row) {
  tx.exec_params(
      "UPDATE group_permission_groups SET name = $4, permission = $5, custom_string = $6"
      " WHERE sdkappid = $1 AND group_id = $2 AND pg_id = $3",
      app, group, row.id, row.name, static_cast<int64_t>(row.permission), row.custom_string);
}

bool DeletePermissionGroup(pqxx::work& tx, uint64_t app, const std::string& group,
                           const std::string& id) {
  return !tx.exec_params(
                "DELETE FROM group_permission_groups WHERE sdkappid = $1 AND group_id = $2"
                " AND pg_id = $3 RETURNING 1",
                app, group, id)
              .empty();
}

std::vector<std::string> AddPermissionMembers(pqxx::work& tx, uint64_t app,
                                              const std::string& group, const std::string& pg,
                                              const std::vector<std::string>& users) {
  return Column(tx.exec_params(
      "INSERT INTO group_permission_members (sdkappid, group_id, pg_id, user_id)"
      " SELECT $1, $2, $3, u FROM unnest($4::text[]) WITH ORDINALITY AS x(u, n) ORDER BY n"
      " ON CONFLICT DO NOTHING RETURNING user_id",
      app, group, pg, pg::TextArray(users)));
}

std::vector<std::string> DeletePermissionMembers(pqxx::work& tx, uint64_t app,
                                                 const std::string& group, const std::string& pg,
                                                 const std::vector<std::string>& users) {
  return Column(tx.exec_params(
      "DELETE FROM group_permission_members WHERE sdkappid = $1 AND group_id = $2 AND pg_id = $3"
      " AND user_id = ANY($4::text[]) RETURNING user_id",
      app, group, pg, pg::TextArray(users)));
}

std::vector<std::pair<std::string, int64_t>> PermissionMembers(pqxx::work& tx, uint64_t app,
                                                               const std::string& group,
                                                               const std::string& pg,
                                                               int64_t after_serial,
                                                               uint32_t limit) {
  auto rows = tx.exec_params(
      "SELECT user_id, serial FROM group_permission_members WHERE sdkappid = $1"
      " AND group_id = $2 AND pg_id = $3 AND serial > $4 ORDER BY serial LIMIT $5",
      app, group, pg, after_serial, static_cast<int64_t>(limit));
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& row : rows) out.emplace_back(row[0].as<std::string>(), row[1].as<int64_t>());
  return out;
}

bool PutTopicPermission(pqxx::work& tx, uint64_t app, const std::string& group,
                        const std::string& pg, const std::string& topic, uint32_t bits, bool add) {
  if (add) {
    return !tx.exec_params(
                  "INSERT INTO group_topic_permissions (sdkappid, group_id, pg_id, topic_id,"
                  " permission) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
                  app, group, pg, topic, static_cast<int64_t>(bits))
                .empty();
  }
  return !tx.exec_params(
                "UPDATE group_topic_permissions SET permission = $5 WHERE sdkappid = $1"
                " AND group_id = $2 AND pg_id = $3 AND topic_id = $4 RETURNING 1",
                app, group, pg, topic, static_cast<int64_t>(bits))
              .empty();
}

bool DeleteTopicPermission(pqxx::work& tx, uint64_t app, const std::string& group,
                           const std::string& pg, const std::string& topic) {
  return !tx.exec_params(
                "DELETE FROM group_topic_permissions WHERE sdkappid = $1 AND group_id = $2"
                " AND pg_id = $3 AND topic_id = $4 RETURNING 1",
                app, group, pg, topic)
              .empty();
}

std::vector<std::pair<std::string, uint32_t>> TopicPermissions(
    pqxx::work& tx, uint64_t app, const std::string& group, const std::string& pg,
    const std::vector<std::string>& topics) {
  auto rows = tx.exec_params(
      "SELECT topic_id, permission FROM group_topic_permissions WHERE sdkappid = $1"
      " AND group_id = $2 AND pg_id = $3 AND ($4::text[] IS NULL OR topic_id = ANY($4::text[]))"
      " ORDER BY topic_id",
      app, group, pg, topics.empty() ? std::optional<std::string>() : pg::TextArray(topics));
  std::vector<std::pair<std::string, uint32_t>> out;
  for (const auto& row : rows) out.emplace_back(row[0].as<std::string>(), row[1].as<uint32_t>());
  return out;
}

uint32_t MemberBits(pqxx::work& tx, uint64_t app, const std::string& group,
                    const std::string& user) {
  return tx.exec_params(
               "SELECT COALESCE(bit_or(p.permission), 0) FROM group_permission_members m"
               " JOIN group_permission_groups p ON p.sdkappid = m.sdkappid"
               "  AND p.group_id = m.group_id AND p.pg_id = m.pg_id"
               " WHERE m.sdkappid = $1 AND m.group_id = $2 AND m.user_id = $3",
               app, group, user)[0][0]
      .as<uint32_t>();
}

uint32_t MemberTopicBits(pqxx::work& tx, uint64_t app, const std::string& group,
                         const std::string& topic, const std::string& user) {
  return tx.exec_params(
               "SELECT COALESCE(bit_or(t.permission), 0) FROM group_permission_members m"
               " JOIN group_topic_permissions t ON t.sdkappid = m.sdkappid"
               "  AND t.group_id = m.group_id AND t.pg_id = m.pg_id"
               " WHERE m.sdkappid = $1 AND m.group_id = $2 AND m.user_id = $3"
               "  AND t.topic_id = $4",
               app, group, user, topic)[0][0]
      .as<uint32_t>();
}

}  // namespace parley::group::store
