// PostgreSQL storage of apps, app admins and accounts. Every row is keyed by
// SDKAppID. Thread-safe (the pool is).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/pg/pool.h"

namespace parley::auth {

struct AppRecord {
  uint64_t sdkappid = 0;
  std::string name;
  std::string secret_key;
  std::vector<std::string> admin_ids;  // sorted
  int64_t created_at = 0;
  std::string login_policy = "platform_class";
  int32_t rest_calls_per_second = 200;   // per REST command
  int32_t client_sends_per_second = 50;  // per client session
};

struct AccountRecord {
  std::string user_id;
  std::string nick;      // empty: keep the stored one on re-import
  std::string face_url;  // likewise
};

class AuthStore {
 public:
  explicit AuthStore(pg::Pool* pool) : pool_(pool) {}

  absl::StatusOr<std::optional<AppRecord>> GetApp(uint64_t sdkappid);
  absl::StatusOr<std::vector<AppRecord>> ListApps();
  // ALREADY_EXISTS when the SDKAppID is taken. Admins become accounts.
  absl::Status CreateApp(const AppRecord& app);
  // Creates the app, or sets its key and adds `admin_id` (up to max_admins).
  absl::Status UpsertBootstrapApp(const AppRecord& app, const std::string& admin_id,
                                  int max_admins);
  // Replaces the admin list; NOT_FOUND for an unknown app.
  absl::Status SetAdmins(uint64_t sdkappid, const std::vector<std::string>& admin_ids);
  // Sets the frequency limits that are > 0; NOT_FOUND for an unknown app.
  absl::Status SetLimits(uint64_t sdkappid, int32_t rest_calls_per_second,
                         int32_t client_sends_per_second);

  // Inserts or updates (non-empty fields only) every account, in one statement.
  absl::Status ImportAccounts(uint64_t sdkappid, const std::vector<AccountRecord>& accounts);
  // Creates the accounts first logins name, where missing: one statement and
  // one commit for all of them (logins are gathered by AuthLogic), and no
  // WAL write or flush when they all exist. Duplicates are fine.
  absl::Status ImportOnLogin(const std::vector<std::pair<uint64_t, std::string>>& accounts);
  // Deletes the given accounts; returns the ones that existed.
  absl::StatusOr<std::set<std::string>> DeleteAccounts(uint64_t sdkappid,
                                                       const std::vector<std::string>& user_ids);
  // Accounts after `after` in UserID order, at most `limit`.
  absl::StatusOr<std::vector<std::string>> AccountsAfter(uint64_t sdkappid,
                                                         const std::string& after, uint32_t limit);
  // The subset of `user_ids` that exists.
  absl::StatusOr<std::set<std::string>> ExistingAccounts(uint64_t sdkappid,
                                                         const std::vector<std::string>& user_ids);

 private:
  pg::Pool* pool_;
};

}  // namespace parley::auth
