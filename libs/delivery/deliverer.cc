#include "parley/delivery/deliverer.h"

#include <map>

#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/rpc/client.h"

namespace parley::delivery {

Deliverer::Deliverer(std::shared_ptr<v1::PushService::StubInterface> push, std::string service)
    : push_(std::move(push)), service_(std::move(service)), thread_([this] { Run(); }) {}

Deliverer::~Deliverer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Deliverer::Enqueue(uint64_t sdkappid, const std::string& user,
                        const v1::TimelineEvent& event, bool honor_receive_opt) {
  v1::Delivery delivery;
  delivery.set_user_id(user);
  delivery.set_ignore_receive_opt(!honor_receive_opt);
  event.SerializeToString(delivery.mutable_event());
  Enqueue(sdkappid, std::move(delivery), nullptr);
}

void Deliverer::Enqueue(uint64_t sdkappid, v1::Delivery delivery, std::shared_ptr<Ticket> ticket) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back({sdkappid, std::move(delivery), std::move(ticket)});
  }
  cv_.notify_one();
}

void Deliverer::EnqueueGroup(uint64_t sdkappid, v1::GroupDelivery delivery,
                             std::shared_ptr<Ticket> ticket) {
  {
    std::lock_guard lock(mu_);
    group_queue_.push_back({sdkappid, std::move(delivery), std::move(ticket)});
  }
  cv_.notify_one();
}

void Deliverer::SetSettler(std::function<void(std::vector<int64_t>)> settled) {
  std::lock_guard lock(mu_);
  settled_ = std::move(settled);
}

size_t Deliverer::Queued() {
  std::lock_guard lock(mu_);
  return queue_.size() + group_queue_.size();
}

bool Deliverer::Flush(std::chrono::milliseconds deadline) {
  std::unique_lock lock(mu_);
  return idle_.wait_for(lock, deadline,
                        [this] { return !calling_ && queue_.empty() && group_queue_.empty(); });
}

namespace {

// Calls `call` up to three times, backing off between attempts.
template <class Call>
grpc::Status WithRetries(uint64_t sdkappid, const std::string& service, Call call) {
  rpc::Caller caller = rpc::ServiceCaller(sdkappid, service);
  grpc::Status status;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(100 << (2 * attempt)));
    auto context = rpc::NewContext(&caller, std::chrono::milliseconds(2000));
    status = call(context.get());
    if (status.ok()) break;
  }
  return status;
}

}  // namespace

grpc::Status Deliverer::DeliverGroupNow(uint64_t sdkappid, const v1::GroupDelivery& delivery,
                                        std::chrono::milliseconds deadline) {
  v1::DeliverGroupRequest request;
  *request.add_deliveries() = delivery;
  rpc::Caller caller = rpc::ServiceCaller(sdkappid, service_);
  auto context = rpc::NewContext(&caller, deadline);
  v1::DeliverGroupResponse response;
  grpc::Status status = push_->DeliverGroup(context.get(), request, &response);
  if (!status.ok()) EnqueueGroup(sdkappid, delivery);
  return status;
}

namespace {

// One call's worth of deliveries for one app, with each one's ticket.
template <class Request>
struct Call {
  Request request;
  std::vector<std::shared_ptr<Ticket>> tickets;
};

// Moves up to 1024 queued deliveries, of at most 64 apps, into calls.
template <class Request, class Queue>
std::map<uint64_t, Call<Request>> TakeCalls(Queue* queue) {
  std::map<uint64_t, Call<Request>> calls;
  size_t taken = 0;
  while (!queue->empty() && calls.size() < 64 && taken < 1024) {
    ++taken;
    auto& front = queue->front();
    Call<Request>& call = calls[front.sdkappid];
    *call.request.add_deliveries() = std::move(front.delivery);
    call.tickets.push_back(std::move(front.ticket));
    queue->pop_front();
  }
  return calls;
}

// Counts a call's outcome against its deliveries' tickets; the ids of those
// now complete with nothing failed go to `settled`.
void Count(const std::vector<std::shared_ptr<Ticket>>& tickets, bool ok,
           std::vector<int64_t>* settled) {
  for (const auto& ticket : tickets) {
    if (!ticket) continue;
    if (!ok) ticket->failed = true;
    if (ticket->remaining.fetch_sub(1) == 1 && !ticket->failed) settled->push_back(ticket->id);
  }
}

}  // namespace

void Deliverer::Run() {
  auto& failed = metrics::Registry::Default().GetCounter("parley_delivery_failed_total",
                                                         "push calls that failed after every retry",
                                                         {{"service", service_}});
  for (;;) {
    std::map<uint64_t, Call<v1::DeliverRequest>> by_app;
    std::map<uint64_t, Call<v1::DeliverGroupRequest>> groups_by_app;
    std::function<void(std::vector<int64_t>)> settler;
    {
      std::unique_lock lock(mu_);
      calling_ = false;
      if (queue_.empty() && group_queue_.empty()) idle_.notify_all();
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty() || !group_queue_.empty(); });
      if (queue_.empty() && group_queue_.empty()) return;
      calling_ = true;
      // Everything queued goes out in one call per app.
      by_app = TakeCalls<v1::DeliverRequest>(&queue_);
      groups_by_app = TakeCalls<v1::DeliverGroupRequest>(&group_queue_);
      settler = settled_;
    }
    std::vector<int64_t> settled;
    auto report = [&](uint64_t sdkappid, const auto& call, const grpc::Status& status) {
      Count(call.tickets, status.ok(), &settled);
      if (status.ok()) return;
      failed.Increment();
      log::Warn("delivery_failed", {{"sdkappid", sdkappid},
                                    {"events", call.request.deliveries_size()},
                                    {"error", status.error_message()}});
    };
    // (Not structured bindings: clang 14 does not let lambdas capture them.)
    for (auto& entry : by_app) {
      const v1::DeliverRequest& request = entry.second.request;
      report(entry.first, entry.second,
             WithRetries(entry.first, service_, [&](grpc::ClientContext* context) {
               v1::DeliverResponse response;
               return push_->Deliver(context, request, &response);
             }));
    }
    for (auto& entry : groups_by_app) {
      const v1::DeliverGroupRequest& request = entry.second.request;
      report(entry.first, entry.second,
             WithRetries(entry.first, service_, [&](grpc::ClientContext* context) {
               v1::DeliverGroupResponse response;
               return push_->DeliverGroup(context, request, &response);
             }));
    }
    if (!settled.empty() && settler) settler(std::move(settled));
  }
}

}  // namespace parley::delivery
