#include "auth_store.h"

#include <map>

namespace parley::auth {
namespace {

constexpr char kSelectApps[] =
    "SELECT a.sdkappid, a.name, a.secret_key, extract(epoch from a.created_at)::bigint,"
    " a.login_policy, a.rest_calls_per_second, a.client_sends_per_second,"
    " coalesce(array_to_string(array_agg(ad.user_id ORDER BY ad.user_id)"
    "   FILTER (WHERE ad.user_id IS NOT NULL), E'\\n'), '')"
    " FROM apps a LEFT JOIN app_admins ad ON ad.sdkappid = a.sdkappid ";

AppRecord ReadApp(const pqxx::row& row) {
  AppRecord app;
  app.sdkappid = row[0].as<uint64_t>();
  app.name = row[1].as<std::string>();
  app.secret_key = row[2].as<std::string>();
  app.created_at = row[3].as<int64_t>();
  app.login_policy = row[4].as<std::string>();
  app.rest_calls_per_second = row[5].as<int32_t>();
  app.client_sends_per_second = row[6].as<int32_t>();
  // User IDs never contain '\n' (validated on the way in).
  std::string admins = row[7].as<std::string>();
  size_t start = 0;
  while (start < admins.size()) {
    size_t end = admins.find('\n', start);
    if (end == std::string::npos) end = admins.size();
    app.admin_ids.push_back(admins.substr(start, end - start));
    start = end + 1;
  }
  return app;
}

void InsertAdmins(pqxx::work& tx, uint64_t sdkappid, const std::vector<std::string>& admin_ids) {
  tx.exec_params(
      "INSERT INTO app_admins (sdkappid, user_id) SELECT $1, unnest($2::text[])"
      " ON CONFLICT DO NOTHING",
      sdkappid, pg::TextArray(admin_ids));
  tx.exec_params(
      "INSERT INTO accounts (sdkappid, user_id) SELECT $1, unnest($2::text[])"
      " ON CONFLICT DO NOTHING",
      sdkappid, pg::TextArray(admin_ids));
}

std::set<std::string> Column(const pqxx::result& result) {
  std::set<std::string> out;
  for (const auto& row : result) out.insert(row[0].as<std::string>());
  return out;
}

}  // namespace

absl::StatusOr<std::optional<AppRecord>> AuthStore::GetApp(uint64_t sdkappid) {
  return pool_->Query<std::optional<AppRecord>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::optional<AppRecord>> {
        pqxx::nontransaction tx(c);  // one statement: no BEGIN/COMMIT round trips
        auto result = tx.exec_params(
            std::string(kSelectApps) + "WHERE a.sdkappid = $1 GROUP BY a.sdkappid", sdkappid);
        if (result.empty()) return std::optional<AppRecord>();
        return std::optional<AppRecord>(ReadApp(result[0]));
      });
}

absl::StatusOr<std::vector<AppRecord>> AuthStore::ListApps() {
  return pool_->Query<std::vector<AppRecord>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<AppRecord>> {
        pqxx::nontransaction tx(c);  // one statement: no BEGIN/COMMIT round trips
        std::vector<AppRecord> apps;
        for (const auto& row :
             tx.exec(std::string(kSelectApps) + "GROUP BY a.sdkappid ORDER BY a.sdkappid")) {
          apps.push_back(ReadApp(row));
        }
        return apps;
      });
}

absl::Status AuthStore::CreateApp(const AppRecord& app) {
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO apps (sdkappid, name, secret_key, login_policy) VALUES ($1, $2, $3, $4)",
        app.sdkappid, app.name, app.secret_key, app.login_policy);
    InsertAdmins(tx, app.sdkappid, app.admin_ids);
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status AuthStore::UpsertBootstrapApp(const AppRecord& app, const std::string& admin_id,
                                           int max_admins) {
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO apps (sdkappid, name, secret_key) VALUES ($1, $2, $3)"
        " ON CONFLICT (sdkappid) DO UPDATE SET secret_key = EXCLUDED.secret_key",
        app.sdkappid, app.name, app.secret_key);
    auto count = tx.exec_params(
        "SELECT count(*), bool_or(user_id = $2) FROM app_admins WHERE sdkappid = $1",
        app.sdkappid, admin_id);
    bool present = !count[0][1].is_null() && count[0][1].as<bool>();
    if (!present && count[0][0].as<int>() >= max_admins) {
      return absl::FailedPreconditionError("the bootstrap app already has the maximum of admins");
    }
    InsertAdmins(tx, app.sdkappid, {admin_id});
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status AuthStore::SetAdmins(uint64_t sdkappid, const std::vector<std::string>& admin_ids) {
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    if (tx.exec_params("SELECT 1 FROM apps WHERE sdkappid = $1 FOR UPDATE", sdkappid).empty()) {
      return absl::NotFoundError("no such app");
    }
    tx.exec_params("DELETE FROM app_admins WHERE sdkappid = $1", sdkappid);
    InsertAdmins(tx, sdkappid, admin_ids);
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status AuthStore::SetLimits(uint64_t sdkappid, int32_t rest_calls_per_second,
                                  int32_t client_sends_per_second) {
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto updated = tx.exec_params(
        "UPDATE apps SET"
        " rest_calls_per_second = CASE WHEN $2 > 0 THEN $2 ELSE rest_calls_per_second END,"
        " client_sends_per_second = CASE WHEN $3 > 0 THEN $3 ELSE client_sends_per_second END"
        " WHERE sdkappid = $1",
        sdkappid, rest_calls_per_second, client_sends_per_second);
    if (updated.affected_rows() == 0) return absl::NotFoundError("no such app");
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status AuthStore::ImportOnLogin(
    const std::vector<std::pair<uint64_t, std::string>>& accounts) {
  auto [apps, ids] = pg::IntTextArrays(accounts);
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);  // one statement, committed on its own
    tx.exec_params(
        "INSERT INTO accounts (sdkappid, user_id)"
        " SELECT * FROM unnest($1::bigint[], $2::text[]) ORDER BY 1, 2"
        " ON CONFLICT (sdkappid, user_id) DO NOTHING",
        apps, ids);
    return absl::OkStatus();
  });
}

absl::Status AuthStore::ImportAccounts(uint64_t sdkappid,
                                       const std::vector<AccountRecord>& accounts) {
  std::vector<std::string> ids, nicks, faces;
  // A batch that names one user twice keeps the last; ON CONFLICT can't see
  // the same row twice in one statement.
  std::map<std::string, const AccountRecord*> unique;
  for (const auto& a : accounts) unique[a.user_id] = &a;
  for (const auto& [id, a] : unique) {
    ids.push_back(a->user_id);
    nicks.push_back(a->nick);
    faces.push_back(a->face_url);
  }
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO accounts (sdkappid, user_id, nick, face_url)"
        " SELECT $1, u, n, f FROM unnest($2::text[], $3::text[], $4::text[]) AS t(u, n, f)"
        " ON CONFLICT (sdkappid, user_id) DO UPDATE SET"
        "  nick = CASE WHEN EXCLUDED.nick <> '' THEN EXCLUDED.nick ELSE accounts.nick END,"
        "  face_url = CASE WHEN EXCLUDED.face_url <> '' THEN EXCLUDED.face_url"
        "             ELSE accounts.face_url END",
        sdkappid, pg::TextArray(ids), pg::TextArray(nicks), pg::TextArray(faces));
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::set<std::string>> AuthStore::DeleteAccounts(
    uint64_t sdkappid, const std::vector<std::string>& user_ids) {
  return pool_->Query<std::set<std::string>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::set<std::string>> {
        pqxx::work tx(c);
        auto deleted = Column(tx.exec_params(
            "DELETE FROM accounts WHERE sdkappid = $1 AND user_id = ANY($2::text[])"
            " RETURNING user_id",
            sdkappid, pg::TextArray(user_ids)));
        tx.commit();
        return deleted;
      });
}

absl::StatusOr<std::vector<std::string>> AuthStore::AccountsAfter(uint64_t sdkappid,
                                                                 const std::string& after,
                                                                 uint32_t limit) {
  return pool_->Query<std::vector<std::string>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<std::string>> {
        pqxx::nontransaction tx(c);
        std::vector<std::string> out;
        for (const auto& row : tx.exec_params(
                 "SELECT user_id FROM accounts WHERE sdkappid = $1 AND user_id > $2"
                 " ORDER BY user_id LIMIT $3",
                 sdkappid, after, limit)) {
          out.push_back(row[0].as<std::string>());
        }
        return out;
      });
}

absl::StatusOr<std::set<std::string>> AuthStore::ExistingAccounts(
    uint64_t sdkappid, const std::vector<std::string>& user_ids) {
  return pool_->Query<std::set<std::string>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::set<std::string>> {
        pqxx::nontransaction tx(c);  // one statement: no BEGIN/COMMIT round trips
        return Column(tx.exec_params(
            "SELECT user_id FROM accounts WHERE sdkappid = $1 AND user_id = ANY($2::text[])",
            sdkappid, pg::TextArray(user_ids)));
      });
}

}  // namespace parley::auth
