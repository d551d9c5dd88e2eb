// Hands events to the push service, off the caller's path. Calls
// are retried with backoff; a delivery that still fails is only late, never
// lost: its events are in the recipients' timelines, and gateways fetch gaps
// by seq when the next event or a reconnect shows one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "parley/v1/push.grpc.pb.h"

namespace parley::delivery {

class Deliverer {
 public:
  // `service` names the caller in logs and push metadata.
  Deliverer(std::shared_ptr<v1::PushService::StubInterface> push, std::string service);
  ~Deliverer();

  // `event` is for `user`'s sessions; it is serialized here, once.
  // `honor_receive_opt`: the recipient's do-not-disturb choice for the
  // sender holds for the offline push of this event (v1::Delivery).
  void Enqueue(uint64_t sdkappid, const std::string& user, const v1::TimelineEvent& event,
               bool honor_receive_opt = true);
  // A group event (push DeliverGroup), routed after those queued before it.
  void EnqueueGroup(uint64_t sdkappid, v1::GroupDelivery delivery);
  // The same, at once: one call within `deadline`, OK once push has routed
  // it. When that call fails (push down or slow) the delivery is queued as by
  // EnqueueGroup and retried off the caller's path, so a caller waits at
  // most `deadline`.
  grpc::Status DeliverGroupNow(uint64_t sdkappid, const v1::GroupDelivery& delivery,
                               std::chrono::milliseconds deadline = std::chrono::milliseconds(1000));

 private:
  void Run();

  std::shared_ptr<v1::PushService::StubInterface> push_;
  std::string service_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, v1::Delivery>> queue_;
  std::deque<std::pair<uint64_t, v1::GroupDelivery>> group_queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace parley::delivery
