#include "parley/service/service.h"

#include "parley/log/log.h"
#include "parley/rpc/tls.h"

namespace parley::service {

void CommonSettings::RegisterProcess(config::Config& config) {
  config.Add("log-level", "PARLEY_LOG_LEVEL", &log_level, "debug, info, warn or error");
  config.Add("drain-ms", "PARLEY_DRAIN_MS", &drain_ms,
             "after SIGTERM, wait between health NOT_SERVING and shutdown");
  config.Add("tls-dir", "PARLEY_TLS_DIR", &tls_dir,
             "internal mutual TLS: directory of ca.crt and this service's <name>.crt/.key");
  config.Add("tls-refresh-seconds", "PARLEY_TLS_REFRESH_SECONDS", &tls_refresh_seconds,
             "how often the TLS files are read again (rotation without restart)");
}

void CommonSettings::Register(config::Config& config) {
  config.Add("pg-url", "PARLEY_PG_URL", &pg_url, "PostgreSQL connection URL");
  config.Add("pg-pool", "PARLEY_PG_POOL_SIZE", &pg_pool, "PostgreSQL connections");
  RegisterRedis(config);
}

void CommonSettings::RegisterRedis(config::Config& config) {
  config.Add("redis-addr", "PARLEY_REDIS_ADDR", &redis_addr, "Redis host:port");
  config.Add("redis-password", "PARLEY_REDIS_PASSWORD", &redis_password, "Redis AUTH password");
  config.Add("redis-pool", "PARLEY_REDIS_POOL_SIZE", &redis_pool, "Redis connections");
  RegisterProcess(config);
}

void CommonSettings::InitLogging(const std::string& service) const {
  log::Init(service, log_level);
}

bool CommonSettings::InitTls(const std::string& service) const {
  auto status = rpc::InitTls({tls_dir, service, tls_refresh_seconds});
  if (!status.ok()) log::Error("tls_config_invalid", {{"error", std::string(status.message())}});
  return status.ok();
}

absl::StatusOr<std::unique_ptr<pg::Pool>> ConnectPostgres(
    const CommonSettings& settings, const std::string& schema,
    const std::vector<pg::Migration>& migrations) {
  auto pool = pg::Pool::Create({settings.pg_url, settings.pg_pool});
  if (!pool.ok()) {
    log::Error("postgres_unavailable", {{"error", std::string(pool.status().message())}});
    return pool.status();
  }
  if (auto st = pg::ApplyMigrations(**pool, schema, migrations); !st.ok()) {
    log::Error("migrations_failed", {{"schema", schema}, {"error", std::string(st.message())}});
    return st;
  }
  return pool;
}

absl::StatusOr<redis::PoolOptions> RedisOptions(const CommonSettings& settings) {
  auto options = redis::Pool::ParseAddress(settings.redis_addr);
  if (!options.ok()) {
    log::Error("redis_config_invalid", {{"error", std::string(options.status().message())}});
    return options.status();
  }
  options->password = settings.redis_password;
  options->size = settings.redis_pool;
  return options;
}

absl::StatusOr<std::unique_ptr<redis::Pool>> ConnectRedis(const CommonSettings& settings) {
  auto options = RedisOptions(settings);
  if (!options.ok()) return options.status();
  auto pool = redis::Pool::Create(*options);
  if (!pool.ok()) {
    log::Error("redis_unavailable", {{"error", std::string(pool.status().message())}});
  }
  return pool;
}

}  // namespace parley::service
