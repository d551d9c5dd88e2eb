// What every service that takes UserIDs from callers needs: the UserID rule
// and a cached "which of these accounts exist" backed by the auth service.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/cache/ttl_cache.h"
#include "parley/v1/auth.grpc.pb.h"

namespace parley::accounts {

// A UserID: 1..32 bytes, printable (compat reference §7).
bool ValidUserId(const std::string& id);

// Asks auth's AccountsExist for the accounts it has not seen recently.
// Existing accounts are remembered for a minute (a deleted account may keep
// passing for that long); missing ones are always asked again, so an import
// is visible at once. Thread-safe.
class ExistenceChecker {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  ExistenceChecker(std::shared_ptr<v1::AuthService::StubInterface> auth, Clock now,
                   std::string service_name);

  // The subset of `users` that exist in the app.
  absl::StatusOr<std::set<std::string>> Existing(uint64_t sdkappid,
                                                 const std::vector<std::string>& users);
  // Drops remembered accounts (they were just deleted).
  void Forget(uint64_t sdkappid, const std::vector<std::string>& users);

 private:
  std::shared_ptr<v1::AuthService::StubInterface> auth_;
  Clock now_;
  std::string service_name_;
  cache::TtlCache<std::string, bool> known_{200000};
};

}  // namespace parley::accounts
