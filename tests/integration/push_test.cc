// PushLogic::Deliver on real Redis: how events are routed to gateway streams.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "parley/errors/errors.h"
#include "parley/presence/devices.h"
#include "parley/presence/presence.h"
#include "parley/redis/pool.h"
#include "push_service.h"
#include "support/process.h"
#include "support/test_cluster.h"

using namespace parley;

namespace {

struct RecordingOfflinePusher : push::OfflinePusher {
  std::vector<std::string> users;
  absl::Status Push(std::vector<v1::PushJob> jobs) override {
    for (const auto& job : jobs) users.push_back(job.user_id());
    return absl::OkStatus();
  }
};

// The fields of every entry of a stream, oldest first.
std::vector<std::map<std::string, std::string>> StreamEntries(redis::Pool& pool,
                                                              const std::string& stream) {
  auto reply = pool.Command({"XRANGE", stream, "-", "+"});
  REQUIRE(reply.ok());
  std::vector<std::map<std::string, std::string>> entries;
  const redisReply* all = reply->raw();
  for (size_t i = 0; i < all->elements; ++i) {
    const redisReply* fields = all->element[i]->element[1];
    std::map<std::string, std::string> entry;
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
      entry[std::string(fields->element[f]->str, fields->element[f]->len)] =
          std::string(fields->element[f + 1]->str, fields->element[f + 1]->len);
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

v1::Delivery MessageFor(const std::string& user, uint64_t seq) {
  v1::TimelineEvent event;
  event.set_seq(seq);
  event.set_kind(v1::TimelineEvent::KIND_MESSAGE);
  event.mutable_message()->set_to_account(user);
  v1::Delivery delivery;
  delivery.set_user_id(user);
  delivery.set_event(event.SerializeAsString());
  return delivery;
}

}  // namespace

TEST_CASE("a Deliver call appends one entry per gateway holding its events in order",
          "[push]") {
  auto options = redis::Pool::ParseAddress(testing::RequireEnv("PARLEY_TEST_REDIS_ADDR"));
  REQUIRE(options.ok());
  auto pool = redis::Pool::Create(*options);
  REQUIRE(pool.ok());
  presence::Presence presence(pool->get());
  RecordingOfflinePusher offline;
  push::PushLogic logic(&presence, &offline);

  uint64_t app = testing::RandomSdkAppId();
  std::string gw1 = "push-test-1-" + std::to_string(app);
  std::string gw2 = "push-test-2-" + std::to_string(app);
  for (const auto& gateway : {gw1, gw2}) REQUIRE(presence.HeartbeatGateway(gateway, 15).ok());
  // alice: two sessions on gw1 and one on gw2; bob: one on gw2; carol: offline.
  REQUIRE(presence.AddSession(app, "alice", {"a1", gw1, "Web", "d1", 1}).ok());
  REQUIRE(presence.AddSession(app, "alice", {"a2", gw1, "PC", "d2", 1}).ok());
  REQUIRE(presence.AddSession(app, "alice", {"a3", gw2, "iPhone", "d3", 1}).ok());
  REQUIRE(presence.AddSession(app, "bob", {"b1", gw2, "Android", "d4", 1}).ok());
  // Push devices: alice's iPhone (a3) is in the background; bob's Android is
  // in the foreground; carol's device has no session; dave has none at all.
  presence::Devices devices(pool->get());
  REQUIRE(devices.Register(app, "alice", {"APNs", "tok-a3", 0, "iPhone", "a3", true, 0}).ok());
  REQUIRE(devices.Register(app, "bob", {"FCM", "tok-b1", 0, "Android", "b1", false, 0}).ok());
  REQUIRE(devices.Register(app, "carol", {"FCM", "tok-c1", 0, "Android", "c-old", false, 0}).ok());

  v1::DeliverRequest request;
  *request.add_deliveries() = MessageFor("alice", 1);
  *request.add_deliveries() = MessageFor("bob", 7);
  *request.add_deliveries() = MessageFor("carol", 3);
  *request.add_deliveries() = MessageFor("alice", 2);
  *request.add_deliveries() = MessageFor("dave", 4);
  auto response = logic.Deliver(rpc::ServiceCaller(app, "parley-message"), request);
  REQUIRE(response.ok());
  CHECK(response->routed_sessions() == 3 + 1 + 3);
  // One job per message whose recipient has a device not online.
  CHECK(offline.users == std::vector<std::string>{"alice", "carol", "alice"});

  // What each gateway reads: one entry, its users' events in request order.
  auto events_of = [&](const std::string& gateway) {
    auto entries = StreamEntries(**pool, presence::GatewayStream(gateway));
    REQUIRE(entries.size() == 1);
    CHECK(entries[0]["type"] == "events");
    CHECK(entries[0]["app"] == std::to_string(app));
    v1::GatewayEvents batch;
    REQUIRE(batch.ParseFromString(entries[0]["payload"]));
    std::vector<std::string> routed;
    for (const auto& delivery : batch.deliveries()) {
      v1::TimelineEvent event;
      REQUIRE(event.ParseFromString(delivery.event()));
      routed.push_back(delivery.user_id() + ":" + std::to_string(event.seq()));
    }
    return routed;
  };
  CHECK(events_of(gw1) == std::vector<std::string>{"alice:1", "alice:2"});
  CHECK(events_of(gw2) == std::vector<std::string>{"alice:1", "bob:7", "alice:2"});

  SECTION("only internal callers may deliver") {
    auto refused = logic.Deliver({app, "alice", /*is_admin=*/false}, request);
    CHECK(errors::TencentCode(refused.status(), -1) == 90009);
    auto admin = logic.Deliver({app, "administrator", /*is_admin=*/true}, request);
    CHECK(errors::TencentCode(admin.status(), -1) == 90009);
    CHECK(StreamEntries(**pool, presence::GatewayStream(gw1)).size() == 1);
  }
  for (const auto& gateway : {gw1, gw2}) {
    std::string stream = presence::GatewayStream(gateway);
    REQUIRE((*pool)->Command({"DEL", stream, stream + ":alive"}).ok());
  }
  REQUIRE((*pool)->Command({"DEL", presence::SessionsKey(app, "alice"),
                            presence::SessionsKey(app, "bob")})
              .ok());
  for (const char* user : {"alice", "bob", "carol"}) {
    REQUIRE((*pool)->Command({"DEL", presence::DevicesKey(app, user)}).ok());
  }
}

TEST_CASE("push devices in Redis: one per session and at most ten with background state and removal",
          "[push]") {
  auto options = redis::Pool::ParseAddress(testing::RequireEnv("PARLEY_TEST_REDIS_ADDR"));
  REQUIRE(options.ok());
  auto pool = redis::Pool::Create(*options);
  REQUIRE(pool.ok());
  presence::Devices devices(pool->get());
  uint64_t app = testing::RandomSdkAppId();
  auto of = [&](const std::string& user) {
    auto all = devices.OfUsers(app, {user});
    REQUIRE(all.ok());
    return (*all)[user];
  };

  // A session's new token replaces its old one.
  REQUIRE(devices.Register(app, "u", {"APNs", "t1", 0, "iPhone", "s1", false, 0}).ok());
  REQUIRE(devices.Register(app, "u", {"APNs", "t2", 0, "iPhone", "s1", false, 0}).ok());
  REQUIRE(of("u").size() == 1);
  CHECK(of("u")[0].token == "t2");
  // The same token from a new session moves to it.
  REQUIRE(devices.Register(app, "u", {"APNs", "t2", 7, "iPhone", "s2", true, 0}).ok());
  REQUIRE(of("u").size() == 1);
  CHECK(of("u")[0].session_id == "s2");
  CHECK(of("u")[0].business_id == 7);
  CHECK(of("u")[0].background);

  REQUIRE(devices.SetBackground(app, "u", "s2", false).ok());
  CHECK_FALSE(of("u")[0].background);
  REQUIRE(devices.SetBackground(app, "u", "s2", true).ok());
  CHECK(of("u")[0].background);
  CHECK(of("u")[0].registered_ms > 0);  // survives cjson's re-encoding

  // At most ten: the oldest goes.
  for (int i = 0; i < 12; ++i) {
    REQUIRE(devices.Register(app, "v", {"FCM", "tok" + std::to_string(i), 0, "Android",
                                        "sess" + std::to_string(i), false, 1000 + i}).ok());
  }
  auto many = of("v");
  CHECK(many.size() == 0);  // registered 1970: long expired, dropped on read
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  for (int i = 0; i < 12; ++i) {  // a millisecond apart: the order is sure
    REQUIRE(devices.Register(app, "w", {"FCM", "tok" + std::to_string(i), 0, "Android",
                                        "sess" + std::to_string(i), false, now + i}).ok());
  }
  auto ten = of("w");
  REQUIRE(ten.size() == presence::kMaxDevicesPerUser);
  std::set<std::string> tokens;
  for (const auto& d : ten) tokens.insert(d.token);
  CHECK_FALSE(tokens.count("tok0"));
  CHECK_FALSE(tokens.count("tok1"));
  CHECK(tokens.count("tok11"));

  // Removal by session (logout, kick) and by token (the vendor's verdict).
  REQUIRE(devices.RemoveOfSession(app, "w", "sess5").ok());
  REQUIRE(devices.Remove(app, "w", "FCM", "tok6").ok());
  CHECK(of("w").size() == presence::kMaxDevicesPerUser - 2);
  REQUIRE(devices.RemoveOfSession(app, "u", "s2").ok());
  CHECK(of("u").empty());
  auto ttl = (*pool)->Command({"PTTL", presence::DevicesKey(app, "w")});
  REQUIRE(ttl.ok());
  CHECK(ttl->integer() > 0);
  CHECK(ttl->integer() <= presence::kDeviceLifetimeMs);
  for (const char* user : {"u", "v", "w"}) {
    REQUIRE((*pool)->Command({"DEL", presence::DevicesKey(app, user)}).ok());
  }
}
