// A Redis pub/sub subscription on its own connection and thread.
//
// on_message runs on the subscriber thread for every message published to
// the channel. Messages published while the connection is down are lost, so
// whoever caches on the strength of these messages must drop the cache in
// on_reset (called when the subscription is lost and again once it is back)
// and must not cache while subscribed() is false. Reconnects every second.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "parley/redis/pool.h"

namespace parley::redis {

class Subscriber {
 public:
  using OnMessage = std::function<void(const std::string& message)>;
  Subscriber(PoolOptions options, std::string channel, OnMessage on_message,
             std::function<void()> on_reset);
  ~Subscriber();  // stops and joins

  void Start();
  bool subscribed() const { return subscribed_.load(); }

 private:
  void Run();
  // Returns when the connection fails or Stop is requested.
  void Listen(redisContext* context);

  PoolOptions options_;
  std::string channel_;
  OnMessage on_message_;
  std::function<void()> on_reset_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> subscribed_{false};
  std::thread thread_;
};

}  // namespace parley::redis
