// Hands events to the push service, off the caller's path. Calls
// are retried with backoff; a delivery that still fails is only late, never
// lost: its events are in the recipients' timelines, and gateways fetch gaps
// by seq when the next event or a reconnect shows one. Deliveries that carry
// a Ticket are also kept in an outbox by the caller (their offline pushes
// exist nowhere else): the ticket's id is reported settled once push took
// every delivery of it, and the caller hands off what stays owed again.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parley/v1/push.grpc.pb.h"

namespace parley::delivery {

// The deliveries of one outbox row: settled when `remaining` reaches 0 with
// none failed. Shared by every delivery of the row.
struct Ticket {
  Ticket(int64_t id, int count) : id(id), remaining(count) {}
  const int64_t id;
  std::atomic<int> remaining;
  std::atomic<bool> failed{false};
};

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
  // A delivery built by the caller, counted against `ticket` (may be null).
  void Enqueue(uint64_t sdkappid, v1::Delivery delivery, std::shared_ptr<Ticket> ticket);
  // A group event (push DeliverGroup), routed after those queued before it.
  void EnqueueGroup(uint64_t sdkappid, v1::GroupDelivery delivery,
                    std::shared_ptr<Ticket> ticket = nullptr);
  // Called on the delivering thread with the ids of tickets whose
  // deliveries push all took. Set before the first ticket is queued.
  void SetSettler(std::function<void(std::vector<int64_t>)> settled);
  // Deliveries queued and not yet taken for a call.
  size_t Queued();
  // Waits, at most `deadline`, until everything queued has been tried
  // (taken, and its call done). Returns whether it was.
  bool Flush(std::chrono::milliseconds deadline);
  // The same, at once: one call within `deadline`, OK once push has routed
  // it. When that call fails (push down or slow) the delivery is queued as by
  // EnqueueGroup and retried off the caller's path, so a caller waits at
  // most `deadline`.
  grpc::Status DeliverGroupNow(uint64_t sdkappid, const v1::GroupDelivery& delivery,
                               std::chrono::milliseconds deadline = std::chrono::milliseconds(1000));

 private:
  template <class T>
  struct Waiting {
    uint64_t sdkappid;
    T delivery;
    std::shared_ptr<Ticket> ticket;
  };
  void Run();

  std::shared_ptr<v1::PushService::StubInterface> push_;
  std::string service_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Waiting<v1::Delivery>> queue_;
  std::deque<Waiting<v1::GroupDelivery>> group_queue_;
  std::function<void(std::vector<int64_t>)> settled_;
  bool stopping_ = false;
  bool calling_ = false;  // a round of calls is under way
  std::condition_variable idle_;
  std::thread thread_;
};

}  // namespace parley::delivery
