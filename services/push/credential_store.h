// Push credentials in PostgreSQL (table push_credentials), read through a
// per-process cache of 10 s so a change holds everywhere within that time.
// Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/cache/ttl_cache.h"
#include "parley/pg/pool.h"
#include "parley/v1/push.pb.h"

namespace parley::push {

class CredentialStore {
 public:
  explicit CredentialStore(pg::Pool* pg) : pg_(pg) {}

  absl::Status Set(uint64_t sdkappid, const v1::PushCredential& credential, int64_t now);
  // (credential, update time), ordered by channel and business ID.
  absl::StatusOr<std::vector<std::pair<v1::PushCredential, int64_t>>> List(uint64_t sdkappid);
  // False when there was none.
  absl::StatusOr<bool> Remove(uint64_t sdkappid, const std::string& channel, uint64_t business_id);
  // The credential a device of `channel` and `business_id` is pushed with
  // (nullopt: none set), cached.
  absl::StatusOr<std::optional<v1::PushCredential>> Get(uint64_t sdkappid,
                                                        const std::string& channel,
                                                        uint64_t business_id);

 private:
  using Key = std::tuple<uint64_t, std::string, uint64_t>;
  pg::Pool* pg_;
  cache::TtlCache<Key, std::optional<v1::PushCredential>> cache_{10000};
};

}  // namespace parley::push
