// What every Parley service's main() shares: the common settings and the
// start-up of its PostgreSQL and Redis pools.
//
//   parley::service::CommonSettings common;
//   parley::config::Config config("parley-x", "...");
//   common.Register(config);
//   if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
//   common.InitLogging("x");
//   if (!common.InitTls("x")) return 1;
//   auto pg = parley::service::ConnectPostgres(common, "x", x_migrations());
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/config/config.h"
#include "parley/pg/migrations.h"
#include "parley/pg/pool.h"
#include "parley/redis/pool.h"

namespace parley::service {

struct CommonSettings {
  std::string pg_url = "postgresql://parley@127.0.0.1:15432/parley";
  int pg_pool = 4;
  std::string redis_addr = "127.0.0.1:16379";
  std::string redis_password;
  int redis_pool = 4;
  std::string log_level = "info";
  int drain_ms = 2000;
  std::string tls_dir;
  int tls_refresh_seconds = 60;

  // Adds PARLEY_PG_URL, PARLEY_PG_POOL_SIZE, PARLEY_REDIS_ADDR,
  // PARLEY_REDIS_PASSWORD, PARLEY_REDIS_POOL_SIZE, PARLEY_LOG_LEVEL and
  // PARLEY_DRAIN_MS.
  void Register(config::Config& config);
  // The Redis ones and the process ones (for services without PostgreSQL).
  void RegisterRedis(config::Config& config);
  // PARLEY_LOG_LEVEL, PARLEY_DRAIN_MS, PARLEY_TLS_DIR and
  // PARLEY_TLS_REFRESH_SECONDS.
  void RegisterProcess(config::Config& config);
  void InitLogging(const std::string& service) const;
  // This process's internal-gRPC identity (rpc/tls.h): "parley-<service>".
  // Logs why and returns false when its certificate files are missing.
  bool InitTls(const std::string& service) const;
};

// Opens the pool and applies `schema`'s migrations; logs why it failed.
absl::StatusOr<std::unique_ptr<pg::Pool>> ConnectPostgres(const CommonSettings& settings,
                                                          const std::string& schema,
                                                          const std::vector<pg::Migration>& migrations);

absl::StatusOr<std::unique_ptr<redis::Pool>> ConnectRedis(const CommonSettings& settings);
// Options for one more Redis connection (e.g. a blocking stream reader).
absl::StatusOr<redis::PoolOptions> RedisOptions(const CommonSettings& settings);

}  // namespace parley::service
