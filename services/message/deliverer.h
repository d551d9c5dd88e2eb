// Hands committed events to the push service, off the sender's path. Calls
// are retried with backoff; a delivery that still fails is only late, never
// lost: its events are in the recipients' timelines, and gateways fetch gaps
// by seq when the next event or a reconnect shows one.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "parley/v1/push.grpc.pb.h"

namespace parley::message {

class Deliverer {
 public:
  explicit Deliverer(std::shared_ptr<v1::PushService::StubInterface> push);
  ~Deliverer();

  void Enqueue(uint64_t sdkappid, v1::Delivery delivery);

 private:
  void Run();

  std::shared_ptr<v1::PushService::StubInterface> push_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, v1::Delivery>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace parley::message
