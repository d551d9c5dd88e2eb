// parley-push: routes events to the gateways holding the recipients' sessions.
#include "parley/log/log.h"
#include "parley/rpc/server.h"
#include "parley/service/service.h"
#include "push_service.h"

int main(int argc, char** argv) {
  parley::rpc::BlockStopSignals();
  parley::service::CommonSettings common;
  std::string grpc_addr = "127.0.0.1:7056";
  std::string metrics_addr = "127.0.0.1:7156";

  parley::config::Config config("parley-push", "Online delivery across gateway instances.");
  common.RegisterRedis(config);
  config.Add("grpc-addr", "PARLEY_PUSH_GRPC_ADDR", &grpc_addr, "gRPC listen address");
  config.Add("metrics-addr", "PARLEY_PUSH_METRICS_ADDR", &metrics_addr,
             "HTTP address of /metrics and /healthz (empty: off)");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  common.InitLogging("push");
  if (!common.InitTls("push")) return 1;

  auto redis = parley::service::ConnectRedis(common);
  if (!redis.ok()) return 1;
  parley::presence::Presence presence(redis->get());
  parley::push::CountingOfflinePusher offline;
  parley::push::PushLogic logic(&presence, &offline);
  parley::push::PushGrpcService service(&logic);
  parley::rpc::ServerRunner runner(
      {"push", grpc_addr, metrics_addr, std::chrono::milliseconds(common.drain_ms)});
  runner.AddService(&service, "parley.v1.PushService");
  if (auto st = runner.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    return 1;
  }
  runner.Wait();
  return 0;
}
