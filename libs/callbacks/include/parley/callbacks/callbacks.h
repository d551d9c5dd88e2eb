// What services that raise callbacks use (message, relationship): whether an
// app wants a command, the synchronous before-callback, and the durable
// queue of after-callbacks that parley-callback delivers.
//
// After-events are appended to the Redis stream parley:callbacks (one field
// "m": the event as JSON) by a background thread, so the caller never waits
// for Redis; from there delivery is at least once (docs/callbacks.md).
// Settings are cached per app and dropped when parley-callback announces a
// change on parley:callback:changes; without that subscription nothing is
// cached. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "parley/cache/ttl_cache.h"
#include "parley/redis/pool.h"
#include "parley/redis/subscriber.h"
#include "parley/v1/callback.grpc.pb.h"

namespace parley::callbacks {

inline constexpr char kQueueStream[] = "parley:callbacks";
inline constexpr char kDeadLetterStream[] = "parley:callbacks:dead";
inline constexpr char kRetrySet[] = "parley:callbacks:retry";
inline constexpr char kChangesChannel[] = "parley:callback:changes";
inline constexpr char kConsumerGroup[] = "callback";
// After-events of an app whose endpoint is down wait here, as they are, until
// it answers again (parley-callback's circuit breaker, docs/callbacks.md);
// the apps with parked events are in kParkedApps.
inline constexpr char kParkedApps[] = "parley:callbacks:parked";
inline constexpr int64_t kParkedMaxPerApp = 1000000;
std::string ParkedStream(uint64_t sdkappid);

// One queued after-event.
struct Event {
  uint64_t sdkappid = 0;
  std::string command;
  std::string payload_json;
  std::string opt_platform;
  std::string client_ip;
  int64_t event_time_ms = 0;
  uint32_t attempts = 0;  // deliveries tried so far
  std::string last_error;
};
std::string EncodeEvent(const Event& event);
absl::StatusOr<Event> DecodeEvent(const std::string& encoded);

// Tencent's OptPlatform for a caller: RESTAPI for the app backend, else the
// client's platform (iOS, Android, Web, Windows, Mac, iPad, Unknown).
std::string OptPlatform(bool is_admin, const std::string& client_platform);

// Whether `settings` enable `command`.
bool Enables(const v1::CallbackSettings& settings, const std::string& command);

class CallbackClient {
 public:
  CallbackClient(std::shared_ptr<v1::WebhookService::StubInterface> service, redis::Pool* redis,
                 redis::PoolOptions subscriber_options);
  ~CallbackClient();

  // True when the app has a URL and enabled `command`; build payloads only then.
  bool Enabled(uint64_t sdkappid, const std::string& command);
  // Asks the app's backend. When parley-callback can't be reached the app's
  // failure policy still applies (refuse: 80003; otherwise allow).
  v1::BeforeResponse Before(uint64_t sdkappid, const std::string& command,
                            const std::string& payload_json, const std::string& opt_platform,
                            const std::string& client_ip = "");
  // While parley-callback has announced the app's endpoint down ("d <app>"
  // on the changes channel, for at most kDownSeconds unless announced again)
  // Before() applies the failure policy without asking, and after-events
  // are parked for the app instead of queued.
  static constexpr int64_t kDownMillis = 30000;
  bool EndpointDown(uint64_t sdkappid);

  // Queues an after-event (if the app enabled it); returns at once.
  // `settled`, when given, runs once nothing is left to do for the event: on
  // that thread when it is in Redis, at once when the app does not want it.
  // It does not
  // run for an event still in memory when the process ends or dropped
  // because the in-memory queue is full, so a producer that keeps a durable
  // record of what it owes (the message service's outbox) can queue it again.
  void After(uint64_t sdkappid, const std::string& command, std::string payload_json,
             std::string opt_platform, std::string client_ip = "",
             std::function<void()> settled = nullptr);
  // The same, with the payload made on the queue's thread (for payloads that
  // need a query, such as an unread count, off the caller's path).
  void After(uint64_t sdkappid, const std::string& command,
             std::function<std::string()> make_payload, std::string opt_platform,
             std::string client_ip = "");

 private:
  // The app's settings (cached); nullopt when they can't be read.
  std::optional<v1::CallbackSettings> Settings(uint64_t sdkappid);
  struct Queued {
    Event event;
    std::function<std::string()> make_payload;  // may be empty
    std::function<void()> settled;              // may be empty
  };
  void Enqueue(Queued queued);
  void Run();

  std::shared_ptr<v1::WebhookService::StubInterface> service_;
  redis::Pool* redis_;
  cache::TtlCache<uint64_t, v1::CallbackSettings> settings_{10000};
  std::mutex mu_;  // guards the after-event queue
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  std::unique_ptr<redis::Subscriber> changes_;
  std::mutex down_mu_;
  std::unordered_map<uint64_t, int64_t> down_until_ms_;  // bounded by the apps
  std::thread writer_;
};

}  // namespace parley::callbacks
