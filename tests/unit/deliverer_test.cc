// The Deliverer's hand-off tickets against an in-process PushService that
// takes or refuses each call as the test tells it to.
#include "parley/delivery/deliverer.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using parley::delivery::Deliverer;
using parley::delivery::Ticket;

namespace {

class FakePush : public parley::v1::PushService::Service {
 public:
  grpc::Status Deliver(grpc::ServerContext*, const parley::v1::DeliverRequest* request,
                       parley::v1::DeliverResponse*) override {
    if (down) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
    std::lock_guard lock(mu);
    for (const auto& d : request->deliveries()) users.push_back(d.user_id());
    return grpc::Status::OK;
  }
  grpc::Status DeliverGroup(grpc::ServerContext*, const parley::v1::DeliverGroupRequest* request,
                            parley::v1::DeliverGroupResponse*) override {
    if (down) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
    std::lock_guard lock(mu);
    for (const auto& d : request->deliveries()) users.push_back("group:" + d.group_id());
    return grpc::Status::OK;
  }
  std::atomic<bool> down{false};
  std::mutex mu;
  std::vector<std::string> users;
};

struct Harness {
  Harness() {
    grpc::ServerBuilder builder;
    builder.RegisterService(&push);
    server = builder.BuildAndStart();
    REQUIRE(server);
    deliverer = std::make_unique<Deliverer>(
        parley::v1::PushService::NewStub(server->InProcessChannel({})), "test");
    deliverer->SetSettler([this](std::vector<int64_t> ids) {
      std::lock_guard lock(mu);
      settled.insert(settled.end(), ids.begin(), ids.end());
    });
  }
  ~Harness() {
    deliverer.reset();
    server->Shutdown();
  }
  static parley::v1::Delivery To(const std::string& user) {
    parley::v1::Delivery d;
    d.set_user_id(user);
    return d;
  }
  static parley::v1::GroupDelivery ToGroup(const std::string& group) {
    parley::v1::GroupDelivery d;
    d.set_group_id(group);
    return d;
  }
  std::vector<int64_t> Settled() {
    std::lock_guard lock(mu);
    return settled;
  }

  FakePush push;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<Deliverer> deliverer;
  std::mutex mu;
  std::vector<int64_t> settled;
};

}  // namespace

TEST_CASE("a ticket settles once push took every delivery of it, one-to-one and group alike",
          "[delivery]") {
  Harness h;
  auto ticket = std::make_shared<Ticket>(7, 3);
  h.deliverer->Enqueue(1, Harness::To("ann"), ticket);
  h.deliverer->Enqueue(2, Harness::To("ben"), ticket);  // another app: another call
  CHECK(h.deliverer->Flush(std::chrono::seconds(5)));
  CHECK(h.Settled().empty());  // one still to come
  h.deliverer->EnqueueGroup(1, Harness::ToGroup("g1"), ticket);
  h.deliverer->Enqueue(1, Harness::To("cat"), nullptr);  // no ticket: counted nowhere
  CHECK(h.deliverer->Flush(std::chrono::seconds(5)));
  CHECK(h.Settled() == std::vector<int64_t>{7});
  CHECK(ticket->remaining == 0);
  CHECK(h.push.users.size() == 4);
  CHECK(h.deliverer->Queued() == 0);
}

TEST_CASE("a ticket with a delivery push refused is never settled", "[delivery]") {
  Harness h;
  h.push.down = true;
  auto refused = std::make_shared<Ticket>(8, 2);
  h.deliverer->Enqueue(1, Harness::To("ann"), refused);
  // Three attempts with backoff, then the call is given up.
  CHECK(h.deliverer->Flush(std::chrono::seconds(10)));
  h.push.down = false;
  h.deliverer->Enqueue(1, Harness::To("ben"), refused);
  auto fine = std::make_shared<Ticket>(9, 1);
  h.deliverer->Enqueue(1, Harness::To("cat"), fine);
  CHECK(h.deliverer->Flush(std::chrono::seconds(5)));
  CHECK(refused->failed);
  CHECK(refused->remaining == 0);
  CHECK(h.Settled() == std::vector<int64_t>{9});  // 8 stays owed: its outbox row is handed off again
}
