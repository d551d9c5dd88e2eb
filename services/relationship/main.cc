// parley-relationship: friends, friend requests, friend lists, blocklist,
// profiles and the facts behind one-to-one send permissions.
#include <chrono>

#include "parley/log/log.h"
#include "parley/rpc/client.h"
#include "parley/rpc/server.h"
#include "parley/service/service.h"
#include "relationship_service.h"

namespace parley::pg {
const std::vector<Migration>& relationship_migrations();
}

int main(int argc, char** argv) {
  parley::rpc::BlockStopSignals();
  parley::service::CommonSettings common;
  std::string grpc_addr = "127.0.0.1:7054";
  std::string metrics_addr = "127.0.0.1:7154";
  std::string auth_target = "127.0.0.1:7051";
  std::string push_target = "127.0.0.1:7056";
  std::string callback_target = "127.0.0.1:7055";

  parley::config::Config config("parley-relationship",
                                "Friends, blocklist and user profiles.");
  common.Register(config);
  config.Add("grpc-addr", "PARLEY_RELATIONSHIP_GRPC_ADDR", &grpc_addr, "gRPC listen address");
  config.Add("metrics-addr", "PARLEY_RELATIONSHIP_METRICS_ADDR", &metrics_addr,
             "HTTP address of /metrics and /healthz (empty: off)");
  config.Add("auth-target", "PARLEY_AUTH_TARGET", &auth_target, "auth service address");
  config.Add("push-target", "PARLEY_PUSH_TARGET", &push_target, "push service address");
  config.Add("callback-target", "PARLEY_CALLBACK_TARGET", &callback_target,
             "callback service address (Sns and Profile callbacks)");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  common.InitLogging("relationship");
  if (!common.InitTls("relationship")) return 1;

  auto pg = parley::service::ConnectPostgres(common, "relationship",
                                             parley::pg::relationship_migrations());
  if (!pg.ok()) return 1;
  auto redis = parley::service::ConnectRedis(common);
  if (!redis.ok()) return 1;

  auto now = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  parley::delivery::Deliverer deliverer(
      parley::v1::PushService::NewStub(parley::rpc::MakeChannel(push_target, "push")),
      "parley-relationship");
  parley::accounts::ExistenceChecker existence(
      parley::v1::AuthService::NewStub(parley::rpc::MakeChannel(auth_target, "auth")), now,
      "parley-relationship");
  parley::relationship::LiveNotifier notifier(redis->get(), &deliverer, now);
  parley::relationship::RelationshipLogic logic(
      pg->get(),
      [&existence](uint64_t app, const std::vector<std::string>& users) {
        return existence.Existing(app, users);
      },
      &notifier, now);
  auto subscriber_options = parley::service::RedisOptions(common);
  if (!subscriber_options.ok()) return 1;
  // After `logic`: destroyed first, so queued callbacks finish while it lives.
  parley::callbacks::CallbackClient callbacks(
      parley::v1::WebhookService::NewStub(parley::rpc::MakeChannel(callback_target, "callback")),
      redis->get(), *subscriber_options);
  logic.SetCallbacks(&callbacks);
  logic.SetOnForget([&existence](uint64_t app, const std::vector<std::string>& users) {
    existence.Forget(app, users);
  });

  parley::relationship::RelationshipGrpcService service(&logic);
  parley::rpc::ServerRunner runner(
      {"relationship", grpc_addr, metrics_addr, std::chrono::milliseconds(common.drain_ms)});
  runner.AddService(&service, "parley.v1.RelationshipService");
  if (auto st = runner.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    return 1;
  }
  runner.Wait();
  return 0;
}
