#include "all_member_store.h"

#include "absl/strings/escaping.h"

namespace parley::push {
namespace {

std::string Encode(const google::protobuf::Message& m) {
  return absl::Base64Escape(m.SerializeAsString());
}

template <class M>
M Decode(const std::string& text) {
  M m;
  std::string bytes;
  if (absl::Base64Unescape(text, &bytes)) m.ParseFromString(bytes);
  return m;
}

constexpr char kTaskColumns[] =
    "task_id, seq, created_ms, expires_ms, message, condition, finished_ms, users, online, devices";

PushTask TaskOf(const pqxx::row& row) {
  PushTask t;
  t.task_id = row[0].as<std::string>();
  t.seq = row[1].as<int64_t>();
  t.created_ms = row[2].as<int64_t>();
  t.expires_ms = row[3].as<int64_t>();
  t.message = Decode<v1::AllMemberMessage>(row[4].as<std::string>());
  t.condition = Decode<v1::ImPushCondition>(row[5].as<std::string>());
  t.finished_ms = row[6].as<int64_t>();
  t.users = row[7].as<int64_t>();
  t.online = row[8].as<int64_t>();
  t.devices = row[9].as<int64_t>();
  return t;
}

}  // namespace

absl::StatusOr<std::map<int, std::string>> AllMemberStore::AttrNames(uint64_t sdkappid) {
  using Out = std::map<int, std::string>;
  return pg_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    Out out;
    for (const auto& row : tx.exec_params(
             "SELECT idx, name FROM push_attr_names WHERE sdkappid = $1 ORDER BY idx",
             static_cast<int64_t>(sdkappid))) {
      out[row[0].as<int>()] = row[1].as<std::string>();
    }
    return out;
  });
}

absl::Status AllMemberStore::SetAttrNames(uint64_t sdkappid,
                                          const std::map<int, std::string>& names) {
  return pg_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    // The named slots are replaced; a renamed slot's old values go with it.
    for (const auto& [index, name] : names) {
      auto old = tx.exec_params(
          "SELECT name FROM push_attr_names WHERE sdkappid = $1 AND idx = $2",
          static_cast<int64_t>(sdkappid), index);
      if (!old.empty() && old[0][0].as<std::string>() != name) {
        tx.exec_params("DELETE FROM push_user_attrs WHERE sdkappid = $1 AND name = $2",
                       static_cast<int64_t>(sdkappid), old[0][0].as<std::string>());
      }
      tx.exec_params(
          "DELETE FROM push_attr_names WHERE sdkappid = $1 AND name = $2 AND idx <> $3",
          static_cast<int64_t>(sdkappid), name, index);
      tx.exec_params(
          "INSERT INTO push_attr_names (sdkappid, idx, name) VALUES ($1, $2, $3)"
          " ON CONFLICT (sdkappid, idx) DO UPDATE SET name = EXCLUDED.name",
          static_cast<int64_t>(sdkappid), index, name);
    }
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::map<std::string, std::map<std::string, std::string>>> AllMemberStore::Attrs(
    uint64_t sdkappid, const std::vector<std::string>& users) {
  using Out = std::map<std::string, std::map<std::string, std::string>>;
  return pg_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    Out out;
    for (const auto& u : users) out[u];
    for (const auto& row : tx.exec_params(
             "SELECT user_id, name, value FROM push_user_attrs"
             " WHERE sdkappid = $1 AND user_id = ANY($2::text[])",
             static_cast<int64_t>(sdkappid), pg::TextArray(users))) {
      out[row[0].as<std::string>()][row[1].as<std::string>()] = row[2].as<std::string>();
    }
    return out;
  });
}

absl::Status AllMemberStore::SetAttrs(uint64_t sdkappid, const v1::SetAttrRequest& request) {
  return pg_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    for (const auto& item : request.user_attrs()) {
      for (const auto& [name, value] : item.attrs()) {
        tx.exec_params(
            "INSERT INTO push_user_attrs (sdkappid, user_id, name, value) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (sdkappid, user_id, name) DO UPDATE SET value = EXCLUDED.value",
            static_cast<int64_t>(sdkappid), item.to_account(), name, value);
      }
    }
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status AllMemberStore::RemoveAttrs(uint64_t sdkappid, const v1::RemoveAttrRequest& request) {
  return pg_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    for (const auto& item : request.user_attrs()) {
      tx.exec_params(
          "DELETE FROM push_user_attrs WHERE sdkappid = $1 AND user_id = $2"
          " AND name = ANY($3::text[])",
          static_cast<int64_t>(sdkappid), item.to_account(),
          pg::TextArray({item.attrs().begin(), item.attrs().end()}));
    }
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::map<std::string, std::set<std::string>>> AllMemberStore::Tags(
    uint64_t sdkappid, const std::vector<std::string>& users) {
  using Out = std::map<std::string, std::set<std::string>>;
  return pg_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    Out out;
    for (const auto& u : users) out[u];
    for (const auto& row : tx.exec_params(
             "SELECT user_id, tag FROM push_user_tags"
             " WHERE sdkappid = $1 AND user_id = ANY($2::text[])",
             static_cast<int64_t>(sdkappid), pg::TextArray(users))) {
      out[row[0].as<std::string>()].insert(row[1].as<std::string>());
    }
    return out;
  });
}

absl::Status AllMemberStore::AddTags(uint64_t sdkappid, const v1::UserTagsRequest& request,
                                     size_t max_per_user) {
  return pg_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    for (const auto& item : request.user_tags()) {
      tx.exec_params(
          "INSERT INTO push_user_tags (sdkappid, user_id, tag)"
          " SELECT $1, $2, t FROM unnest($3::text[]) AS t ON CONFLICT DO NOTHING",
          static_cast<int64_t>(sdkappid), item.to_account(),
          pg::TextArray({item.tags().begin(), item.tags().end()}));
      auto count = tx.exec_params(
          "SELECT count(*) FROM push_user_tags WHERE sdkappid = $1 AND user_id = $2",
          static_cast<int64_t>(sdkappid), item.to_account());
      if (count[0][0].as<int64_t>() > static_cast<int64_t>(max_per_user)) {
        return absl::FailedPreconditionError("a user would have more than 100 tags");
      }
    }
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status AllMemberStore::RemoveTags(uint64_t sdkappid, const v1::UserTagsRequest& request) {
  return pg_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    for (const auto& item : request.user_tags()) {
      tx.exec_params(
          "DELETE FROM push_user_tags WHERE sdkappid = $1 AND user_id = $2 AND tag = ANY($3::text[])",
          static_cast<int64_t>(sdkappid), item.to_account(),
          pg::TextArray({item.tags().begin(), item.tags().end()}));
    }
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status AllMemberStore::RemoveAllTags(uint64_t sdkappid, const std::vector<std::string>& users) {
  return pg_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("DELETE FROM push_user_tags WHERE sdkappid = $1 AND user_id = ANY($2::text[])",
                   static_cast<int64_t>(sdkappid), pg::TextArray(users));
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::string>> AllMemberStore::Matching(
    uint64_t sdkappid, const v1::ImPushCondition& condition, const std::string& after,
    uint32_t limit) {
  using Out = std::vector<std::string>;
  return pg_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    pqxx::result rows;
    auto app = static_cast<int64_t>(sdkappid);
    bool tags_and = !condition.tags_and().empty();
    if (tags_and || !condition.tags_or().empty()) {
      const auto& list = tags_and ? condition.tags_and() : condition.tags_or();
      // Users with all (And) or any (Or) of the tags.
      rows = tx.exec_params(
          "SELECT user_id FROM push_user_tags WHERE sdkappid = $1 AND tag = ANY($2::text[])"
          " AND user_id > $3 GROUP BY user_id HAVING count(*) >= $5 ORDER BY user_id LIMIT $4",
          app, pg::TextArray({list.begin(), list.end()}), after, limit,
          tags_and ? list.size() : 1);
    } else {
      bool attrs_and = !condition.attrs_and().empty();
      const auto& map = attrs_and ? condition.attrs_and() : condition.attrs_or();
      std::vector<std::string> names, values;
      for (const auto& [name, value] : map) {
        names.push_back(name);
        values.push_back(value);
      }
      rows = tx.exec_params(
          "SELECT a.user_id FROM push_user_attrs a"
          " JOIN unnest($2::text[], $3::text[]) AS w(name, value)"
          "   ON a.name = w.name AND a.value = w.value"
          " WHERE a.sdkappid = $1 AND a.user_id > $4"
          " GROUP BY a.user_id HAVING count(*) >= $6 ORDER BY a.user_id LIMIT $5",
          app, pg::TextArray(names), pg::TextArray(values), after, limit,
          attrs_and ? static_cast<int64_t>(names.size()) : 1);
    }
    Out out;
    for (const auto& row : rows) out.push_back(row[0].as<std::string>());
    return out;
  });
}

absl::StatusOr<PushTask> AllMemberStore::CreateTask(uint64_t sdkappid, PushTask task) {
  return pg_->Query<PushTask>([&](pqxx::connection& c) -> absl::StatusOr<PushTask> {
    pqxx::work tx(c);
    auto rows = tx.exec_params(
        "INSERT INTO push_tasks (sdkappid, task_id, created_ms, expires_ms, message, condition)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
        static_cast<int64_t>(sdkappid), task.task_id, task.created_ms, task.expires_ms,
        Encode(task.message), Encode(task.condition));
    tx.commit();
    task.seq = rows[0][0].as<int64_t>();
    return task;
  });
}

absl::StatusOr<std::optional<PushTask>> AllMemberStore::Task(uint64_t sdkappid,
                                                            const std::string& task_id) {
  using Out = std::optional<PushTask>;
  return pg_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(std::string("SELECT ") + kTaskColumns +
                                   " FROM push_tasks WHERE sdkappid = $1 AND task_id = $2",
                               static_cast<int64_t>(sdkappid), task_id);
    if (rows.empty()) return Out();
    return Out(TaskOf(rows[0]));
  });
}

absl::StatusOr<std::vector<PushTask>> AllMemberStore::ActiveTasksAfter(uint64_t sdkappid,
                                                                       int64_t seq,
                                                                       int64_t now_ms) {
  using Out = std::vector<PushTask>;
  return pg_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    Out out;
    for (const auto& row : tx.exec_params(
             std::string("SELECT ") + kTaskColumns +
                 " FROM push_tasks WHERE sdkappid = $1 AND seq > $2 AND expires_ms > $3"
                 " ORDER BY seq LIMIT 1000",
             static_cast<int64_t>(sdkappid), seq, now_ms)) {
      out.push_back(TaskOf(row));
    }
    return out;
  });
}

absl::StatusOr<PushTask> AllMemberStore::AddProgress(uint64_t sdkappid, const std::string& task_id,
                                                     int64_t users, int64_t online,
                                                     int64_t devices, int64_t finished_ms) {
  return pg_->Query<PushTask>([&](pqxx::connection& c) -> absl::StatusOr<PushTask> {
    pqxx::work tx(c);
    auto rows = tx.exec_params(
        std::string("UPDATE push_tasks SET users = users + $3, online = online + $4,"
                    " devices = devices + $5,"
                    " finished_ms = CASE WHEN $6::bigint > 0 THEN $6::bigint ELSE finished_ms END"
                    " WHERE sdkappid = $1 AND task_id = $2 RETURNING ") +
            kTaskColumns,
        static_cast<int64_t>(sdkappid), task_id, users, online, devices, finished_ms);
    tx.commit();
    if (rows.empty()) return absl::NotFoundError("no such task");
    return TaskOf(rows[0]);
  });
}

}  // namespace parley::push
