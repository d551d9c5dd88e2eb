// Versioned SQL migrations, compiled into each service's binary by
// parley_embed_sql() (cmake/ParleyHelpers.cmake) from services/<name>/migrations/NNNN_*.sql.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "parley/pg/pool.h"

namespace parley::pg {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// Applies, in one transaction under an advisory lock (so replicas starting
// together don't race), every migration of `service` not yet recorded in
// parley_schema_migrations. Already-applied versions are skipped.
absl::Status ApplyMigrations(Pool& pool, const std::string& service,
                             const std::vector<Migration>& migrations);

}  // namespace parley::pg
