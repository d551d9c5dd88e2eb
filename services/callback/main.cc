// parley-callback: third-party callbacks to the app's backend. Answers
// before-callbacks synchronously and delivers queued after-callbacks.
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/numbers.h"
#include "after_queue.h"
#include "callback_service.h"
#include "parley/log/log.h"
#include "parley/redis/subscriber.h"
#include "parley/rpc/server.h"
#include "parley/service/service.h"

namespace parley::pg {
const std::vector<Migration>& callback_migrations();
}

int main(int argc, char** argv) {
  parley::rpc::BlockStopSignals();
  parley::service::CommonSettings common;
  std::string grpc_addr = "127.0.0.1:7055";
  std::string metrics_addr = "127.0.0.1:7155";
  int64_t sdkappid = 0;
  std::string url;
  std::string token;
  int timeout_ms = 2000;
  int workers = 4;
  int max_attempts = 12;
  int retry_base_ms = 1000;
  int retry_max_ms = 60000;
  int claim_idle_ms = 60000;
  int trim_interval_ms = 1000;
  int dead_letter_max_age_hours = 24 * 7;
  int64_t dead_letter_max_count = 100000;
  int breaker_failures = 5;
  int breaker_cooldown_ms = 1000;
  int breaker_max_cooldown_ms = 30000;
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::string instance = std::string(host) + "-" + std::to_string(getpid());

  parley::config::Config config("parley-callback", "Third-party callbacks to the app's backend.");
  common.Register(config);
  config.Add("grpc-addr", "PARLEY_CALLBACK_GRPC_ADDR", &grpc_addr, "gRPC listen address");
  config.Add("metrics-addr", "PARLEY_CALLBACK_METRICS_ADDR", &metrics_addr,
             "HTTP address of /metrics and /healthz (empty: off)");
  config.Add("sdkappid", "PARLEY_SDKAPPID", &sdkappid, "bootstrap app's SDKAppID (0: none)");
  config.Add("url", "PARLEY_CALLBACK_URL", &url,
             "bootstrap app's callback URL (sets it, with every command enabled on first use)");
  config.Add("token", "PARLEY_CALLBACK_TOKEN", &token, "bootstrap app's callback auth token");
  config.Add("timeout-ms", "PARLEY_CALLBACK_TIMEOUT_MS", &timeout_ms, "HTTP timeout per callback");
  config.Add("workers", "PARLEY_CALLBACK_WORKERS", &workers, "after-callback delivery threads");
  config.Add("max-attempts", "PARLEY_CALLBACK_MAX_ATTEMPTS", &max_attempts,
             "after-callback attempts before the dead-letter stream");
  config.Add("retry-base-ms", "PARLEY_CALLBACK_RETRY_BASE_MS", &retry_base_ms,
             "first retry delay; doubles per attempt");
  config.Add("retry-max-ms", "PARLEY_CALLBACK_RETRY_MAX_MS", &retry_max_ms, "longest retry delay");
  config.Add("claim-idle-ms", "PARLEY_CALLBACK_CLAIM_IDLE_MS", &claim_idle_ms,
             "take over events a dead replica read but did not finish after this long");
  config.Add("trim-interval-ms", "PARLEY_CALLBACK_TRIM_INTERVAL_MS", &trim_interval_ms,
             "how often consumed queue entries and old dead letters are trimmed from Redis");
  config.Add("dead-letter-max-age-hours", "PARLEY_CALLBACK_DEAD_LETTER_MAX_AGE_HOURS",
             &dead_letter_max_age_hours, "dead letters older than this are dropped");
  config.Add("dead-letter-max-count", "PARLEY_CALLBACK_DEAD_LETTER_MAX_COUNT",
             &dead_letter_max_count, "at most this many dead letters are kept (oldest go first)");
  config.Add("breaker-failures", "PARLEY_CALLBACK_BREAKER_FAILURES", &breaker_failures,
             "failures in a row (refused, timed out, garbage) that open an endpoint's breaker");
  config.Add("breaker-cooldown-ms", "PARLEY_CALLBACK_BREAKER_COOLDOWN_MS", &breaker_cooldown_ms,
             "an open breaker lets one probe through after this long; doubles per failed probe");
  config.Add("breaker-max-cooldown-ms", "PARLEY_CALLBACK_BREAKER_MAX_COOLDOWN_MS",
             &breaker_max_cooldown_ms, "longest wait between probes");
  config.Add("instance-id", "PARLEY_CALLBACK_INSTANCE", &instance,
             "this replica's consumer name in the Redis consumer group");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  common.InitLogging("callback");
  if (!common.InitTls("callback")) return 1;

  auto pg = parley::service::ConnectPostgres(common, "callback", parley::pg::callback_migrations());
  if (!pg.ok()) return 1;
  auto redis = parley::service::ConnectRedis(common);
  if (!redis.ok()) return 1;
  auto reader_options = parley::service::RedisOptions(common);
  if (!reader_options.ok()) return 1;

  parley::http::Client http;
  parley::redis::Pool* redis_pool = redis->get();
  parley::callback::CallbackLogic logic(
      pg->get(), &http,
      [redis_pool](const std::string& message) {
        (void)redis_pool->Command({"PUBLISH", parley::callbacks::kChangesChannel, message});
      },
      [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      },
      {std::chrono::milliseconds(timeout_ms),
       {breaker_failures, std::chrono::milliseconds(breaker_cooldown_ms),
        std::chrono::milliseconds(breaker_max_cooldown_ms)}});
  parley::redis::Subscriber changes(
      *reader_options, parley::callbacks::kChangesChannel,
      [&logic](const std::string& message) {
        uint64_t app = 0;
        if (message.size() > 2 && absl::SimpleAtoi(message.substr(2), &app)) {
          if (message[0] == 'a') logic.Invalidate(app);
          return;  // "d"/"u": endpoint state, for producers
        }
        logic.InvalidateAll();
      },
      [&logic] { logic.InvalidateAll(); });
  logic.set_caching([&changes] { return changes.subscribed(); });
  changes.Start();

  if (sdkappid != 0 && !url.empty()) {
    if (auto st = logic.EnsureBootstrap(static_cast<uint64_t>(sdkappid), url, token); !st.ok()) {
      parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
      return 1;
    }
  }

  parley::callback::AfterQueueOptions queue_options;
  queue_options.workers = workers;
  queue_options.max_attempts = static_cast<uint32_t>(max_attempts);
  queue_options.retry_base = std::chrono::milliseconds(retry_base_ms);
  queue_options.retry_max = std::chrono::milliseconds(retry_max_ms);
  queue_options.claim_idle = std::chrono::milliseconds(claim_idle_ms);
  queue_options.consumer = instance;
  queue_options.trim_interval = std::chrono::milliseconds(std::max(100, trim_interval_ms));
  queue_options.dead_letter_max_age = std::chrono::hours(std::max(1, dead_letter_max_age_hours));
  queue_options.dead_letter_max_count = std::max<int64_t>(1, dead_letter_max_count);
  parley::callback::AfterQueue queue(&logic, redis_pool, *reader_options, queue_options);
  if (auto st = queue.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    return 1;
  }

  parley::callback::CallbackGrpcService service(&logic, redis_pool);
  parley::rpc::ServerRunner runner(
      {"callback", grpc_addr, metrics_addr, std::chrono::milliseconds(common.drain_ms)});
  runner.AddService(&service, "parley.v1.WebhookService");
  if (auto st = runner.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    return 1;
  }
  runner.Wait();
  return 0;
}
