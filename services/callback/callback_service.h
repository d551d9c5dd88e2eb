// parley-callback's core: per-app settings, the synchronous before-callback
// and the delivery of one after-event. The queue around the latter is in
// after_queue.h. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "breaker.h"
#include "parley/cache/ttl_cache.h"
#include "parley/callbacks/callbacks.h"
#include "parley/http/client.h"
#include "parley/pg/pool.h"
#include "parley/redis/pool.h"
#include "parley/rpc/serve.h"
#include "parley/v1/callback.grpc.pb.h"

namespace parley::callback {

struct CallbackOptions {
  std::chrono::milliseconds timeout{2000};  // Tencent's callback timeout
  BreakerOptions breaker;
};

class CallbackLogic {
 public:
  using Clock = std::function<int64_t()>;  // unix milliseconds
  // `publish` announces to every replica and producer, on the changes
  // channel: "a <app>" (new settings), "d <app>" (its endpoint is down: the
  // breaker opened, or a probe failed) and "u <app>" (it answers again).
  CallbackLogic(pg::Pool* pool, http::Client* http,
                std::function<void(const std::string&)> publish,
                Clock now_ms, CallbackOptions options = {});

  absl::StatusOr<v1::BeforeResponse> Before(const v1::BeforeRequest& request);
  // POSTs one after-event; OK when the backend answered 200 with JSON.
  // NOT_FOUND when the app no longer wants it (drop it, don't retry);
  // ABORTED, with no network attempt, while the endpoint's circuit breaker
  // is open (park it, don't count an attempt).
  absl::Status DeliverAfter(const callbacks::Event& event);
  // Whether the breaker of the app's current callback URL is open.
  bool EndpointDown(uint64_t sdkappid);

  absl::StatusOr<v1::CallbackSettings> GetSettings(uint64_t sdkappid);
  absl::StatusOr<v1::CallbackSettings> UpdateSettings(const v1::CallbackSettings& update);
  // The bootstrap app's URL and token from the environment; a new row
  // enables every command.
  absl::Status EnsureBootstrap(uint64_t sdkappid, const std::string& url, const std::string& token);
  // A change notice from another replica (or this one).
  void Invalidate(uint64_t sdkappid);
  void InvalidateAll();
  void set_caching(std::function<bool()> caching) { caching_ = std::move(caching); }

 private:
  // POSTs `command` with `payload_json`; the HTTP answer, or why it failed.
  // ABORTED without a network attempt while the endpoint's breaker is open.
  absl::StatusOr<http::ClientResponse> Post(const v1::CallbackSettings& settings,
                                            const std::string& command,
                                            const std::string& payload_json,
                                            const std::string& opt_platform,
                                            const std::string& client_ip, int64_t event_time_ms);
  CircuitBreakers breakers_;
  // While a breaker stays open its "down" notice is repeated every
  // kDownRepeatMs, so producers' word (callbacks::CallbackClient::kDownMillis)
  // never lapses between probes that are up to 30 s apart. By breaker key.
  static constexpr int64_t kDownRepeatMs = 5000;
  std::mutex down_announced_mu_;
  std::unordered_map<std::string, int64_t> down_announced_ms_;

  pg::Pool* pool_;
  http::Client* http_;
  std::function<void(const std::string&)> publish_;
  Clock now_ms_;
  CallbackOptions options_;
  std::function<bool()> caching_ = [] { return false; };
  cache::TtlCache<uint64_t, v1::CallbackSettings> cache_{10000};
};

class CallbackGrpcService final : public v1::WebhookService::Service {
 public:
  CallbackGrpcService(CallbackLogic* logic, redis::Pool* redis) : logic_(logic), redis_(redis) {}
  grpc::Status Before(grpc::ServerContext*, const v1::BeforeRequest* request,
                      v1::BeforeResponse* response) override;
  grpc::Status GetSettings(grpc::ServerContext*, const v1::GetCallbackSettingsRequest* request,
                           v1::CallbackSettings* response) override;
  grpc::Status UpdateSettings(grpc::ServerContext*, const v1::CallbackSettings* request,
                              v1::CallbackSettings* response) override;
  grpc::Status ListDeadLetters(grpc::ServerContext*, const v1::ListDeadLettersRequest* request,
                               v1::ListDeadLettersResponse* response) override;
  grpc::Status ReplayDeadLetters(grpc::ServerContext*, const v1::ReplayDeadLettersRequest* request,
                                 v1::ReplayDeadLettersResponse* response) override;

 private:
  // Dead letters (id, event), oldest first; sdkappid 0: every app's.
  absl::StatusOr<std::vector<std::pair<std::string, callbacks::Event>>> ReadDeadLetters(
      uint64_t sdkappid);

  CallbackLogic* logic_;
  redis::Pool* redis_;
};

}  // namespace parley::callback
