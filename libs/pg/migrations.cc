#include "parley/pg/migrations.h"

#include <set>

#include "parley/log/log.h"

namespace parley::pg {

absl::Status ApplyMigrations(Pool& pool, const std::string& service,
                             const std::vector<Migration>& migrations) {
  return pool.Run([&](pqxx::connection& connection) {
    pqxx::work tx(connection);
    tx.exec("SELECT pg_advisory_xact_lock(7130001)");
    tx.exec(
        "CREATE TABLE IF NOT EXISTS parley_schema_migrations ("
        " service TEXT NOT NULL, version INT NOT NULL, name TEXT NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (service, version))");
    std::set<int> applied;
    for (const auto& row :
         tx.exec_params("SELECT version FROM parley_schema_migrations WHERE service = $1",
                        service)) {
      applied.insert(row[0].as<int>());
    }
    for (const Migration& migration : migrations) {
      if (applied.count(migration.version)) continue;
      tx.exec(migration.sql);
      tx.exec_params(
          "INSERT INTO parley_schema_migrations (service, version, name) VALUES ($1, $2, $3)",
          service, migration.version, migration.name);
      log::Info("migration_applied", {{"schema", service}, {"version", migration.version},
                                      {"name", migration.name}});
    }
    tx.commit();
    return absl::OkStatus();
  });
}

}  // namespace parley::pg
