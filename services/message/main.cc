// parley-message: C2C messages, timelines and sync.
#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "group_msg_service.h"
#include "handoff.h"
#include "message_service.h"
#include "parley/log/log.h"
#include "parley/redis/subscriber.h"
#include "parley/rpc/client.h"
#include "parley/rpc/server.h"
#include "parley/service/service.h"

namespace parley::pg {
const std::vector<Migration>& message_migrations();
}

int main(int argc, char** argv) {
  parley::rpc::BlockStopSignals();
  parley::service::CommonSettings common;
  std::string grpc_addr = "127.0.0.1:7052";
  std::string metrics_addr = "127.0.0.1:7152";
  std::string auth_target = "127.0.0.1:7051";
  std::string push_target = "127.0.0.1:7056";
  std::string relationship_target = "127.0.0.1:7054";
  std::string callback_target = "127.0.0.1:7055";
  std::string group_target = "127.0.0.1:7057";
  int max_batch = 256;

  parley::config::Config config("parley-message", "One-to-one messages, timelines and sync.");
  common.Register(config);
  config.Add("grpc-addr", "PARLEY_MESSAGE_GRPC_ADDR", &grpc_addr, "gRPC listen address");
  config.Add("metrics-addr", "PARLEY_MESSAGE_METRICS_ADDR", &metrics_addr,
             "HTTP address of /metrics and /healthz (empty: off)");
  config.Add("auth-target", "PARLEY_AUTH_TARGET", &auth_target, "auth service address");
  config.Add("push-target", "PARLEY_PUSH_TARGET", &push_target, "push service address");
  config.Add("relationship-target", "PARLEY_RELATIONSHIP_TARGET", &relationship_target,
             "relationship service address (send permissions)");
  config.Add("callback-target", "PARLEY_CALLBACK_TARGET", &callback_target,
             "callback service address (third-party callbacks)");
  config.Add("group-target", "PARLEY_GROUP_TARGET", &group_target,
             "group service address (membership and mutes of group sends)");
  config.Add("max-batch", "PARLEY_MESSAGE_MAX_BATCH", &max_batch,
             "most messages persisted in one transaction");
  int outbox_lease_ms = 30000;
  config.Add("delivery-outbox-lease-ms", "PARLEY_DELIVERY_OUTBOX_LEASE_MS", &outbox_lease_ms,
             "how long a stored batch's deliveries wait for push before another hand-off");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  parley::message::SetHandOffLease(std::chrono::milliseconds(std::max(outbox_lease_ms, 100)));
  parley::message::SetHandOffScope(push_target);
  common.InitLogging("message");
  if (!common.InitTls("message")) return 1;

  auto pg = parley::service::ConnectPostgres(common, "message", parley::pg::message_migrations());
  if (!pg.ok()) return 1;
  parley::message::MessageStore store(pg->get());
  parley::message::BatchWriter writer(&store, static_cast<size_t>(max_batch));
  parley::delivery::Deliverer deliverer(
      parley::v1::PushService::NewStub(parley::rpc::MakeChannel(push_target, "push")), "parley-message");
  // Stored messages' deliveries are kept in delivery_outbox until push takes them.
  parley::message::HandOffKeeper handoffs(pg->get(), &deliverer);
  auto now = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  auto redis_options = parley::service::RedisOptions(common);
  if (!redis_options.ok()) return 1;
  // Send permissions are cached; relationship changes arrive on Redis pub/sub.
  std::unique_ptr<parley::redis::Subscriber> changes;
  parley::message::SendPermission permissions(
      parley::v1::RelationshipService::NewStub(parley::rpc::MakeChannel(relationship_target, "relationship")), now,
      [&changes] { return changes && changes->subscribed(); });
  changes = std::make_unique<parley::redis::Subscriber>(
      *redis_options, parley::message::kRelationshipChangesChannel,
      [&permissions](const std::string& m) { permissions.OnChange(m); },
      [&permissions] { permissions.InvalidateAll(); });
  changes->Start();
  auto redis = parley::service::ConnectRedis(common);
  if (!redis.ok()) return 1;
  parley::message::MessageLogic logic(
      &store, &writer, &deliverer,
      parley::v1::AuthService::NewStub(parley::rpc::MakeChannel(auth_target, "auth")), &permissions, now);
  // After `logic`: destroyed first, so queued callbacks finish while it lives.
  parley::callbacks::CallbackClient callbacks(
      parley::v1::WebhookService::NewStub(parley::rpc::MakeChannel(callback_target, "callback")),
      redis->get(), *redis_options);
  logic.SetCallbacks(&callbacks);
  parley::message::GroupMessageStore group_store(pg->get());
  logic.SetGroupStore(&group_store);
  // Group contexts are cached; group tips are announced on Redis pub/sub.
  std::unique_ptr<parley::redis::Subscriber> group_changes;
  parley::message::GroupContextCache group_contexts(
      parley::v1::GroupService::NewStub(parley::rpc::MakeChannel(group_target, "group")), now,
      [&group_changes] { return group_changes && group_changes->subscribed(); });
  // Global mutes are cached too; changes go on the same channel.
  parley::message::NoSpeakingCache no_speaking(
      [&store](uint64_t app, const std::string& user) { return store.GetNoSpeaking(app, user); },
      now, [&group_changes] { return group_changes && group_changes->subscribed(); });
  group_changes = std::make_unique<parley::redis::Subscriber>(
      *redis_options, parley::message::kGroupChangesChannel,
      [&group_contexts, &no_speaking](const std::string& m) {
        group_contexts.OnChange(m);
        no_speaking.OnChange(m);
      },
      [&group_contexts, &no_speaking] {
        group_contexts.InvalidateAll();
        no_speaking.InvalidateAll();
      });
  group_changes->Start();
  logic.SetNoSpeaking(&no_speaking, [pool = redis->get()](const std::string& message) {
    // Lost announcements are bounded by the cache's TTL.
    (void)pool->Command({"PUBLISH", parley::message::kGroupChangesChannel, message});
  });
  std::random_device entropy;
  std::mt19937 generator(entropy());
  std::mutex generator_mu;
  parley::message::GroupMessageLogic group_logic(
      &group_store, &deliverer,
      parley::v1::GroupService::NewStub(parley::rpc::MakeChannel(group_target, "group")),
      &group_contexts, now, [&] {
        std::lock_guard lock(generator_mu);
        return static_cast<uint32_t>(generator());
      });
  group_logic.SetCallbacks(&callbacks);
  parley::liveroom::Rooms rooms(redis->get());
  group_logic.SetRooms(&rooms);
  group_logic.SetNoSpeaking(&no_speaking);
  group_logic.SetAccountChecker([&logic](uint64_t app, const std::vector<std::string>& users) {
    return logic.ExistingAccounts(app, users);
  });
  group_logic.SetAnnouncer([pool = redis->get()](const std::string& message) {
    // Lost announcements are bounded by the cache's TTL.
    (void)pool->Command({"PUBLISH", parley::message::kGroupChangesChannel, message});
  });

  // Every 100 ms: outbox rows of queued after-send callbacks, and of
  // deliveries push took, are deleted.
  // Every 5 s: after-send callbacks the outbox still owes (their replica
  // died before queueing them) are queued again, and so are deliveries push
  // has not taken in 30 s. Once a minute: dedup records older than the
  // window are dropped.
  std::atomic<bool> running{true};
  std::thread janitor([&] {
    for (int tick = 1; running; ++tick) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      logic.DeleteSettledCallbacks();
      handoffs.Settle();
      if (tick % 2 == 0) group_logic.FlushNotes();
      if (tick % 50 == 0) {
        while (running && logic.RequeueOwedCallbacks(500) == 500) {
        }
        while (running && handoffs.Redeliver(100) == 100) {
        }
      }
      if (tick % 600 == 0) (void)store.DeleteExpiredDedup();
    }
  });

  parley::message::MessageGrpcService service(&logic);
  parley::rpc::ServerRunner runner(
      {"message", grpc_addr, metrics_addr, std::chrono::milliseconds(common.drain_ms)});
  runner.AddService(&service, "parley.v1.MessageService");
  parley::message::GroupMessageGrpcService group_service(&group_logic);
  runner.AddService(&group_service, "parley.v1.GroupMessageService");
  if (auto st = runner.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    running = false;
    janitor.join();
    logic.StopAfterSends();
    changes.reset();  // its thread calls into `permissions`
    group_changes.reset();
    return 1;
  }
  runner.Wait();
  running = false;
  janitor.join();
  // What push took before the end leaves the outbox now, not by a second
  // hand-off from another replica.
  (void)deliverer.Flush(std::chrono::seconds(2));
  handoffs.Settle();
  group_logic.FlushNotes();
  group_changes.reset();  // its thread calls into `group_contexts`
  logic.StopAfterSends();  // before `callbacks` goes
  changes.reset();
  return 0;
}
