// Durable, at-least-once delivery of after-callbacks.
//
// Producers append events to the Redis stream parley:callbacks. Workers of
// every parley-callback replica read it through the consumer group
// "callback" (each entry goes to one worker), POST it and acknowledge it.
// A failed POST is acknowledged too, after the event was put in the retry
// set (a sorted set scored by when to try again, backing off exponentially);
// a mover puts due events back on the stream with one atomic script. After
// max_attempts the event goes to the dead-letter stream
// parley:callbacks:dead, which operators list and replay over gRPC. Entries
// a crashed worker had read but not acknowledged are claimed by the others
// once idle for claim_idle.
//
// The same loop turns the gateways' login/logout records (stream
// parley:state_changes) into State.StateChange events.
//
// While an app's callback endpoint is down (its circuit breaker is open,
// breaker.h), its after-events are not retried one by one: each is parked,
// attempts unchanged, in the app's stream parley:callbacks:parked:<app>
// (the app is in the set parley:callbacks:parked). A drainer probes the
// endpoint with the oldest parked event once the breaker lets it, and when
// the endpoint is back moves every parked event to the queue, in order.
//
// Redis stays bounded (docs/architecture.md, "Redis keys"): a trimmer drops
// entries of both streams that every consumer group has read and
// acknowledged, and dead letters older than dead_letter_max_age or beyond
// dead_letter_max_count.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "callback_service.h"
#include "parley/redis/streams.h"

namespace parley::callback {

struct AfterQueueOptions {
  int workers = 4;
  uint32_t max_attempts = 12;  // with the defaults below: about 8 minutes of retries
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{60000};
  std::chrono::milliseconds claim_idle{60000};
  std::string consumer = "callback";  // this replica's name in the consumer group
  std::chrono::milliseconds trim_interval{1000};
  std::chrono::hours dead_letter_max_age{24 * 7};
  int64_t dead_letter_max_count = 100000;
  std::chrono::milliseconds drain_interval{200};
};

using redis::ConsumedBefore;
using redis::GroupProgress;
using redis::StreamIdLess;

class AfterQueue {
 public:
  // Stream entries: [(id, {field: value})].
  using Entries = redis::StreamEntries;

  AfterQueue(CallbackLogic* logic, redis::Pool* redis, redis::PoolOptions reader_options,
             AfterQueueOptions options);
  ~AfterQueue();  // stops and joins

  absl::Status Start();

  // The delay before attempt `attempts` + 1 (attempts >= 1 have failed).
  static std::chrono::milliseconds Backoff(const AfterQueueOptions& options, uint32_t attempts);

 private:
  // Creates the consumer group of `stream` if missing (start: "0" or "$").
  void EnsureGroup(const char* stream, const char* start);
  // A dedicated connection for blocking reads; false (after a pause) when
  // Redis can't be reached.
  bool OpenReader(std::unique_ptr<redis::Pool>* reader);
  void Work(int index);
  void MoveDueRetries();
  void ConvertStateChanges();
  // Queues the State.StateChange callbacks of these presence changes and
  // acknowledges them, in one transaction.
  void ConvertStateEntries(const Entries& entries);
  // Every trim_interval: consumed entries of both streams, old dead letters.
  void Trim();
  // Every drain_interval: probes down endpoints with a parked event, and
  // moves the parked events of endpoints that are back to the queue.
  void DrainParked();
  void DrainApp(uint64_t sdkappid);
  void TrimConsumed(const char* stream);
  // Delivers one entry and records the outcome; the entry is acknowledged.
  void Handle(const std::string& id, const std::string& encoded);

  CallbackLogic* logic_;
  redis::Pool* redis_;
  redis::PoolOptions reader_options_;
  AfterQueueOptions options_;
  std::atomic<bool> running_{false};
  std::vector<std::thread> threads_;
};

}  // namespace parley::callback
