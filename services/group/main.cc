// parley-group: groups, their members and roles.
#include <chrono>
#include <atomic>
#include <mutex>
#include <thread>
#include <random>

#include "group_service.h"
#include "parley/errors/errors.h"
#include "parley/v1/group_message.grpc.pb.h"
#include "parley/accounts/accounts.h"
#include "parley/delivery/deliverer.h"
#include "parley/log/log.h"
#include "parley/rpc/client.h"
#include "parley/rpc/server.h"
#include "parley/service/service.h"

namespace parley::pg {
const std::vector<Migration>& group_migrations();
}

int main(int argc, char** argv) {
  parley::rpc::BlockStopSignals();
  parley::service::CommonSettings common;
  std::string grpc_addr = "127.0.0.1:7057";
  std::string metrics_addr = "127.0.0.1:7157";
  std::string auth_target = "127.0.0.1:7051";
  std::string callback_target = "127.0.0.1:7055";
  std::string message_target = "127.0.0.1:7052";
  std::string push_target = "127.0.0.1:7056";

  parley::config::Config config("parley-group", "Groups, their members and roles.");
  common.Register(config);
  config.Add("grpc-addr", "PARLEY_GROUP_GRPC_ADDR", &grpc_addr, "gRPC listen address");
  config.Add("metrics-addr", "PARLEY_GROUP_METRICS_ADDR", &metrics_addr,
             "HTTP address of /metrics and /healthz (empty: off)");
  config.Add("auth-target", "PARLEY_AUTH_TARGET", &auth_target, "auth service address");
  config.Add("callback-target", "PARLEY_CALLBACK_TARGET", &callback_target,
             "callback service address (Group callbacks)");
  config.Add("message-target", "PARLEY_MESSAGE_TARGET", &message_target,
             "message service address (group tips in the group's message seq)");
  config.Add("push-target", "PARLEY_PUSH_TARGET", &push_target,
             "push service address (join-request notices to online devices)");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  common.InitLogging("group");
  if (!common.InitTls("group")) return 1;

  auto pg = parley::service::ConnectPostgres(common, "group", parley::pg::group_migrations());
  if (!pg.ok()) return 1;
  auto redis = parley::service::ConnectRedis(common);
  if (!redis.ok()) return 1;
  auto subscriber_options = parley::service::RedisOptions(common);
  if (!subscriber_options.ok()) return 1;

  auto now = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  parley::delivery::Deliverer deliverer(
      parley::v1::PushService::NewStub(parley::rpc::MakeChannel(push_target, "push")),
      "parley-group");
  parley::accounts::ExistenceChecker existence(
      parley::v1::AuthService::NewStub(parley::rpc::MakeChannel(auth_target, "auth")), now,
      "parley-group");
  std::mutex random_mu;
  std::mt19937_64 rng(std::random_device{}());
  parley::group::GroupLogic logic(
      pg->get(),
      [&existence](uint64_t app, const std::vector<std::string>& users) {
        return existence.Existing(app, users);
      },
      now,
      [&] {
        std::lock_guard lock(random_mu);
        return rng();
      });

  // After `logic`: destroyed first, so queued callbacks finish while it lives.
  parley::callbacks::CallbackClient callbacks(
      parley::v1::WebhookService::NewStub(parley::rpc::MakeChannel(callback_target, "callback")),
      redis->get(), *subscriber_options);
  logic.SetCallbacks(&callbacks);
  std::shared_ptr<parley::v1::GroupMessageService::StubInterface> tips =
      parley::v1::GroupMessageService::NewStub(parley::rpc::MakeChannel(message_target, "message"));
  logic.SetTipPoster([tips](uint64_t sdkappid, const parley::v1::PostGroupTipRequest& tip) {
    parley::rpc::Caller self = parley::rpc::ServiceCaller(sdkappid, "parley-group");
    // Within the gateway's 3 s for the whole call: the change is committed
    // by now, and a caller told "too slow" would make it again (a second
    // group). The message service answers within about a second even while
    // push is down (DeliverGroupNow).
    auto context = parley::rpc::NewContext(&self, std::chrono::milliseconds(2000));
    // A channel still connecting (a busy or restarting message service) is
    // waited for within the deadline instead of failing the tip at once.
    context->set_wait_for_ready(true);
    parley::v1::PostGroupTipResponse response;
    auto status = parley::errors::FromGrpc(tips->PostGroupTip(context.get(), tip, &response));
    if (!status.ok()) return absl::StatusOr<uint64_t>(status);
    return absl::StatusOr<uint64_t>(response.seq());
  });

  logic.SetNotifier([&deliverer](uint64_t sdkappid, const std::string& user,
                                 const parley::v1::TimelineEvent& event) {
    deliverer.Enqueue(sdkappid, user, event);
  });

  parley::liveroom::Rooms rooms(redis->get());
  logic.SetRooms(&rooms);
  // Room join, exit and member-state callbacks go out batched, once a second.
  std::atomic<bool> flushing{true};
  std::thread room_events([&] {
    while (flushing.load()) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      logic.FlushRoomEvents();
    }
  });

  parley::group::GroupGrpcService service(&logic);
  parley::rpc::ServerRunner runner(
      {"group", grpc_addr, metrics_addr, std::chrono::milliseconds(common.drain_ms)});
  runner.AddService(&service, "parley.v1.GroupService");
  if (auto st = runner.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    return 1;
  }
  runner.Wait();
  flushing = false;
  room_events.join();
  logic.FlushRoomEvents();
  return 0;
}
