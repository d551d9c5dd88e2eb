// parley-auth: reads settings, connects PostgreSQL and Redis, applies
// migrations, ensures the bootstrap app and serves AuthService.
#include <chrono>

#include "auth_service.h"
#include "parley/log/log.h"
#include "parley/rpc/client.h"
#include "parley/rpc/server.h"
#include "parley/service/service.h"

namespace parley::pg {
const std::vector<Migration>& auth_migrations();
}

int main(int argc, char** argv) {
  parley::rpc::BlockStopSignals();
  parley::service::CommonSettings common;
  std::string grpc_addr = "127.0.0.1:7051";
  std::string metrics_addr = "127.0.0.1:7151";
  int64_t sdkappid = 0;
  std::string secret_key;
  std::string admin_id = "administrator";
  std::string relationship_target = "127.0.0.1:7054";

  parley::config::Config config("parley-auth", "Apps, UserSig verification and accounts.");
  common.Register(config);
  config.Add("grpc-addr", "PARLEY_AUTH_GRPC_ADDR", &grpc_addr, "gRPC listen address");
  config.Add("metrics-addr", "PARLEY_AUTH_METRICS_ADDR", &metrics_addr,
             "HTTP address of /metrics and /healthz (empty: off)");
  config.Add("sdkappid", "PARLEY_SDKAPPID", &sdkappid, "bootstrap app's SDKAppID (0: none)");
  config.Add("secret-key", "PARLEY_SECRET_KEY", &secret_key, "bootstrap app's secret key");
  config.Add("admin-id", "PARLEY_ADMIN_ID", &admin_id, "bootstrap app's admin account");
  config.Add("relationship-target", "PARLEY_RELATIONSHIP_TARGET", &relationship_target,
             "relationship service address (imported Nick/FaceUrl become profiles)");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  common.InitLogging("auth");
  if (!common.InitTls("auth")) return 1;

  auto pg = parley::service::ConnectPostgres(common, "auth", parley::pg::auth_migrations());
  if (!pg.ok()) return 1;
  auto redis = parley::service::ConnectRedis(common);
  if (!redis.ok()) return 1;

  parley::auth::AuthStore store(pg->get());
  parley::auth::SessionStore sessions(redis->get());
  parley::auth::AuthLogic logic(&store, &sessions, [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  });
  logic.SetProfiles(
      parley::v1::RelationshipService::NewStub(parley::rpc::MakeChannel(relationship_target, "relationship")));
  if (sdkappid != 0) {
    if (secret_key.empty()) {
      parley::log::Error("startup_failed",
                         {{"error", "PARLEY_SDKAPPID is set without PARLEY_SECRET_KEY"}});
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
      {"auth", grpc_addr, metrics_addr, std::chrono::milliseconds(common.drain_ms)});
  runner.AddService(&service, "parley.v1.AuthService");
  if (auto st = runner.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    return 1;
  }
  runner.Wait();
  return 0;
}
