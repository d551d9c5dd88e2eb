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
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(sdkappid, std::move(delivery));
  }
  cv_.notify_one();
}

void Deliverer::EnqueueGroup(uint64_t sdkappid, v1::GroupDelivery delivery) {
  {
    std::lock_guard lock(mu_);
    group_queue_.emplace_back(sdkappid, std::move(delivery));
  }
  cv_.notify_one();
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

void Deliverer::Run() {
  auto& failed = metrics::Registry::Default().GetCounter("parley_delivery_failed_total",
                                                         "push calls that failed after every retry",
                                                         {{"service", service_}});
  for (;;) {
    std::map<uint64_t, v1::DeliverRequest> by_app;
    std::map<uint64_t, v1::DeliverGroupRequest> groups_by_app;
    size_t batched = 0;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty() || !group_queue_.empty(); });
      if (queue_.empty() && group_queue_.empty()) return;
      // Everything queued goes out in one call per app.
      while (!queue_.empty() && by_app.size() < 64 && batched < 1024) {
        ++batched;
        *by_app[queue_.front().first].add_deliveries() = std::move(queue_.front().second);
        queue_.pop_front();
      }
      batched = 0;
      while (!group_queue_.empty() && groups_by_app.size() < 64 && batched < 1024) {
        ++batched;
        *groups_by_app[group_queue_.front().first].add_deliveries() =
            std::move(group_queue_.front().second);
        group_queue_.pop_front();
      }
    }
    auto report = [&](uint64_t sdkappid, int events, const grpc::Status& status) {
      if (status.ok()) return;
      failed.Increment();
      log::Warn("delivery_failed", {{"sdkappid", sdkappid},
                                    {"events", events},
                                    {"error", status.error_message()}});
    };
    // (Not structured bindings: clang 14 does not let lambdas capture them.)
    for (auto& entry : by_app) {
      const v1::DeliverRequest& request = entry.second;
      report(entry.first, request.deliveries_size(),
             WithRetries(entry.first, service_, [&](grpc::ClientContext* context) {
               v1::DeliverResponse response;
               return push_->Deliver(context, request, &response);
             }));
    }
    for (auto& entry : groups_by_app) {
      const v1::DeliverGroupRequest& request = entry.second;
      report(entry.first, request.deliveries_size(),
             WithRetries(entry.first, service_, [&](grpc::ClientContext* context) {
               v1::DeliverGroupResponse response;
               return push_->DeliverGroup(context, request, &response);
             }));
    }
  }
}

}  // namespace parley::delivery
