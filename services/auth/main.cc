// parley-auth: reads settings, connects PostgreSQL and Redis, applies
// migrations, ensures the bootstrap app and serves AuthService.
#include <chrono>
#include <iostream>

#include "auth_service.h"
#include "parley/config/config.h"
#include "parley/pg/migrations.h"
#include "parley/log/log.h"
#include "parley/rpc/server.h"

namespace parley::pg {
const std::vector<Migration>& auth_migrations();
}

int main(int argc, char** argv) {
  parley::rpc::BlockStopSignals();
  std::string grpc_addr = "127.0.0.1:50051";
  std::string metrics_addr = "127.0.0.1:9151";
  std::string pg_url = "postgresql://parley@127.0.0.1:55432/parley";
  int pg_pool = 4;
  std::string redis_addr = "127.0.0.1:56379";
  std::string redis_password;
  int redis_pool = 4;
  int64_t sdkappid = 0;
  std::string secret_key;
  std::string admin_id = "administrator";
  std::string log_level = "info";
  int drain_ms = 2000;

  parley::config::Config config("parley-auth", "Apps, UserSig verification and accounts.");
  config.Add("grpc-addr", "PARLEY_AUTH_GRPC_ADDR", &grpc_addr, "gRPC listen address");
  config.Add("metrics-addr", "PARLEY_AUTH_METRICS_ADDR", &metrics_addr,
             "HTTP address of /metrics and /healthz (empty: off)");
  config.Add("pg-url", "PARLEY_PG_URL", &pg_url, "PostgreSQL connection URL");
  config.Add("pg-pool", "PARLEY_PG_POOL_SIZE", &pg_pool, "PostgreSQL connections");
  config.Add("redis-addr", "PARLEY_REDIS_ADDR", &redis_addr, "Redis host:port");
  config.Add("redis-password", "PARLEY_REDIS_PASSWORD", &redis_password, "Redis AUTH password");
  config.Add("redis-pool", "PARLEY_REDIS_POOL_SIZE", &redis_pool, "Redis connections");
  config.Add("sdkappid", "PARLEY_SDKAPPID", &sdkappid, "bootstrap app's SDKAppID (0: none)");
  config.Add("secret-key", "PARLEY_SECRET_KEY", &secret_key, "bootstrap app's secret key");
  config.Add("admin-id", "PARLEY_ADMIN_ID", &admin_id, "bootstrap app's admin account");
  config.Add("log-level", "PARLEY_LOG_LEVEL", &log_level, "debug, info, warn or error");
  config.Add("drain-ms", "PARLEY_DRAIN_MS", &drain_ms, "wait between NOT_SERVING and shutdown");
  if (auto st = config.Parse(argc, argv); !st.ok()) {
    std::cerr << st.message() << "\n\n" << config.Usage();
    return 2;
  }
  if (config.help_requested()) {
    std::cout << config.Usage();
    return 0;
  }
  parley::log::Init("auth", log_level);

  auto pg = parley::pg::Pool::Create({pg_url, pg_pool});
  if (!pg.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(pg.status().message())}});
    return 1;
  }
  if (auto st = parley::pg::ApplyMigrations(**pg, "auth", parley::pg::auth_migrations()); !st.ok()) {
    parley::log::Error("migrations_failed", {{"error", std::string(st.message())}});
    return 1;
  }
  auto redis_options = parley::redis::Pool::ParseAddress(redis_addr);
  if (!redis_options.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(redis_options.status().message())}});
    return 1;
  }
  redis_options->password = redis_password;
  redis_options->size = redis_pool;
  auto redis = parley::redis::Pool::Create(*redis_options);
  if (!redis.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(redis.status().message())}});
    return 1;
  }

  parley::auth::AuthStore store(pg->get());
  parley::auth::SessionStore sessions(redis->get());
  parley::auth::AuthLogic logic(&store, &sessions, [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  });
  if (sdkappid != 0) {
    if (secret_key.empty()) {
      parley::log::Error("startup_failed", {{"error", "PARLEY_SDKAPPID is set without PARLEY_SECRET_KEY"}});
      return 1;
    }
    if (auto st = logic.EnsureBootstrapApp(static_cast<uint64_t>(sdkappid), secret_key, admin_id);
        !st.ok()) {
      parley::log::Error("bootstrap_app_failed", {{"error", std::string(st.message())}});
      return 1;
    }
  }

  parley::auth::AuthGrpcService service(&logic);
  parley::rpc::ServerRunner runner(
      {"auth", grpc_addr, metrics_addr, std::chrono::milliseconds(drain_ms)});
  runner.AddService(&service, "parley.v1.AuthService");
  if (auto st = runner.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    return 1;
  }
  runner.Wait();
  return 0;
}
