#include "topic_store.h"

#include "absl/strings/str_cat.h"
#include "parley/pg/pool.h"

namespace parley::group::store {
namespace {

constexpr char kTopicColumns[] =
    "topic_id, group_id, name, face_url, notification, introduction, custom_string, mute_all,"
    " create_time, last_msg_time, next_msg_seq, default_permission";

TopicRow ReadTopic(const pqxx::row& row) {
  TopicRow t;
  t.topic_id = row[0].as<std::string>();
  t.group_id = row[1].as<std::string>();
  t.name = row[2].as<std::string>();
  t.face_url = row[3].as<std::string>();
  t.notification = row[4].as<std::string>();
  t.introduction = row[5].as<std::string>();
  t.custom_string = row[6].as<std::string>();
  t.mute_all = row[7].as<bool>();
  t.create_time = row[8].as<int64_t>();
  t.last_msg_time = row[9].as<int64_t>();
  t.next_msg_seq = row[10].as<int64_t>();
  t.default_permission = row[11].as<uint32_t>();
  return t;
}

}  // namespace

bool InsertTopic(pqxx::work& tx, uint64_t app, const TopicRow& t) {
  return !tx.exec_params(
                "INSERT INTO group_topics (sdkappid, topic_id, group_id, name, face_url,"
                " notification, introduction, custom_string, mute_all, create_time,"
                " default_permission) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                " ON CONFLICT DO NOTHING RETURNING 1",
                app, t.topic_id, t.group_id, t.name, t.face_url, t.notification, t.introduction,
                t.custom_string, t.mute_all, t.create_time, static_cast<int64_t>(t.default_permission))
              .empty();
}

std::optional<TopicRow> Topic(pqxx::work& tx, uint64_t app, const std::string& topic_id,
                              bool lock) {
  auto rows = tx.exec_params(
      absl::StrCat("SELECT ", kTopicColumns,
                   " FROM group_topics WHERE sdkappid = $1 AND topic_id = $2",
                   lock ? " FOR UPDATE" : ""),
      app, topic_id);
  if (rows.empty()) return std::nullopt;
  return ReadTopic(rows[0]);
}

std::vector<TopicRow> Topics(pqxx::work& tx, uint64_t app, const std::string& group_id,
                             const std::vector<std::string>& ids) {
  auto rows = tx.exec_params(
      absl::StrCat("SELECT ", kTopicColumns,
                   " FROM group_topics WHERE sdkappid = $1 AND group_id = $2"
                   " AND ($3::text[] IS NULL OR topic_id = ANY($3::text[])) ORDER BY serial"),
      app, group_id, ids.empty() ? std::optional<std::string>() : pg::TextArray(ids));
  std::vector<TopicRow> out;
  for (const auto& row : rows) out.push_back(ReadTopic(row));
  return out;
}

uint32_t TopicCount(pqxx::work& tx, uint64_t app, const std::string& group_id) {
  return tx.exec_params("SELECT count(*) FROM group_topics WHERE sdkappid = $1 AND group_id = $2",
                        app, group_id)[0][0]
      .as<uint32_t>();
}

void UpdateTopic(pqxx::work& tx, uint64_t app, const TopicRow& t) {
  tx.exec_params(
      "UPDATE group_topics SET name = $3, face_url = $4, notification = $5, introduction = $6,"
      " custom_string = $7, mute_all = $8, default_permission = $9"
      " WHERE sdkappid = $1 AND topic_id = $2",
      app, t.topic_id, t.name, t.face_url, t.notification, t.introduction, t.custom_string,
      t.mute_all, static_cast<int64_t>(t.default_permission));
}

void DeleteTopic(pqxx::work& tx, uint64_t app, const std::string& topic_id) {
  tx.exec_params("DELETE FROM group_topics WHERE sdkappid = $1 AND topic_id = $2", app, topic_id);
}

void SetTopicMute(pqxx::work& tx, uint64_t app, const std::string& topic_id,
                  const std::string& user, int64_t mute_until) {
  if (mute_until == 0) {
    tx.exec_params(
        "DELETE FROM group_topic_mutes WHERE sdkappid = $1 AND topic_id = $2 AND user_id = $3",
        app, topic_id, user);
    return;
  }
  tx.exec_params(
      "INSERT INTO group_topic_mutes (sdkappid, topic_id, user_id, mute_until)"
      " VALUES ($1, $2, $3, $4) ON CONFLICT (sdkappid, topic_id, user_id)"
      " DO UPDATE SET mute_until = EXCLUDED.mute_until",
      app, topic_id, user, mute_until);
}

int64_t TopicMuteOf(pqxx::work& tx, uint64_t app, const std::string& topic_id,
                    const std::string& user, int64_t now) {
  auto rows = tx.exec_params(
      "SELECT mute_until FROM group_topic_mutes WHERE sdkappid = $1 AND topic_id = $2"
      " AND user_id = $3 AND mute_until > $4",
      app, topic_id, user, now);
  return rows.empty() ? 0 : rows[0][0].as<int64_t>();
}

std::map<std::string, int64_t> UserTopicMutes(pqxx::work& tx, uint64_t app,
                                              const std::string& group_id,
                                              const std::string& user, int64_t now) {
  auto rows = tx.exec_params(
      "SELECT u.topic_id, u.mute_until FROM group_topic_mutes u JOIN group_topics t"
      " ON t.sdkappid = u.sdkappid AND t.topic_id = u.topic_id"
      " WHERE u.sdkappid = $1 AND t.group_id = $2 AND u.user_id = $3 AND u.mute_until > $4",
      app, group_id, user, now);
  std::map<std::string, int64_t> out;
  for (const auto& row : rows) out[row[0].as<std::string>()] = row[1].as<int64_t>();
  return out;
}

std::vector<std::pair<std::string, int64_t>> TopicMutes(pqxx::work& tx, uint64_t app,
                                                        const std::string& group_id,
                                                        const std::string& topic_id,
                                                        int64_t now) {
  auto rows = tx.exec_params(
      "SELECT u.user_id, u.mute_until FROM group_topic_mutes u JOIN group_members m"
      " ON m.sdkappid = u.sdkappid AND m.group_id = $3 AND m.user_id = u.user_id"
      " WHERE u.sdkappid = $1 AND u.topic_id = $2 AND u.mute_until > $4 ORDER BY m.serial",
      app, topic_id, group_id, now);
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& row : rows) out.emplace_back(row[0].as<std::string>(), row[1].as<int64_t>());
  return out;
}

void NoteTopicMessages(pqxx::work& tx, uint64_t app, const std::vector<std::string>& topics,
                       const std::vector<int64_t>& times, const std::vector<int64_t>& seqs) {
  if (topics.empty()) return;
  pg::ExecPrepared(tx, "group_note_topics",
                   "UPDATE group_topics t SET last_msg_time = GREATEST(t.last_msg_time, n.tm),"
                   " next_msg_seq = GREATEST(t.next_msg_seq, n.seq + 1)"
                   " FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS n(id, tm, seq)"
                   " WHERE t.sdkappid = $1 AND t.topic_id = n.id",
                   app, pg::TextArray(topics), pg::IntArray(times), pg::IntArray(seqs));
}

}  // namespace parley::group::store
