// Users' receive options per one-to-one peer, in PostgreSQL
// (c2c_receive_opts). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/pg/pool.h"

namespace parley::push {

class ReceiveOptStore {
 public:
  explicit ReceiveOptStore(pg::Pool* pg) : pg_(pg) {}
  // Opt 0 deletes the rows (the default).
  absl::Status Set(uint64_t sdkappid, const std::string& user, const std::vector<std::string>& peers,
                   int32_t opt);
  // Every peer's option (0 for peers without a row).
  absl::StatusOr<std::map<std::string, int32_t>> Get(uint64_t sdkappid, const std::string& user,
                                                     const std::vector<std::string>& peers);
  // Of these (user, peer) pairs, those whose user set a non-zero option for
  // the peer: one query for a batch of notifications.
  absl::StatusOr<std::set<std::pair<std::string, std::string>>> Muted(
      uint64_t sdkappid, const std::vector<std::pair<std::string, std::string>>& pairs);

 private:
  pg::Pool* pg_;
};

}  // namespace parley::push
