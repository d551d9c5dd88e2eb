#include <catch2/catch.hpp>

#include <chrono>

#include "parley/presence/presence.h"
#include "parley/redis/pool.h"
#include "support/process.h"
#include "support/test_cluster.h"

using namespace parley;

namespace {
std::unique_ptr<redis::Pool> Connect(int size) {
  auto options = redis::Pool::ParseAddress(testing::RequireEnv("PARLEY_TEST_REDIS_ADDR"));
  REQUIRE(options.ok());
  options->size = size;
  auto pool = redis::Pool::Create(*options);
  REQUIRE(pool.ok());
  return std::move(*pool);
}
}  // namespace

TEST_CASE("commands are binary-safe and errors become statuses", "[redis]") {
  auto pool = Connect(2);
  std::string key = "parley:test:" + std::to_string(testing::RandomSdkAppId());
  std::string value("a\0b\r\nc", 6);
  REQUIRE(pool->Command({"SET", key, value, "EX", "60"}).ok());
  auto got = pool->Command({"GET", key});
  REQUIRE(got.ok());
  CHECK(got->str() == value);
  CHECK(pool->Command({"GET", key + ":missing"})->is_nil());
  auto wrong = pool->Command({"HGET", key, "field"});  // a string is not a hash
  CHECK(wrong.status().code() == absl::StatusCode::kInternal);
  CHECK(pool->Command({"DEL", key})->integer() == 1);
}

TEST_CASE("a killed connection is replaced on its next use", "[redis]") {
  auto pool = Connect(1);
  auto id = pool->Command({"CLIENT", "ID"});
  REQUIRE(id.ok());
  auto killer = Connect(1);
  REQUIRE(killer->Command({"CLIENT", "KILL", "ID", std::to_string(id->integer())}).ok());
  auto failed = pool->Command({"PING"});
  CHECK(failed.status().code() == absl::StatusCode::kUnavailable);
  auto recovered = pool->Command({"PING"});
  REQUIRE(recovered.ok());
  CHECK(recovered->str() == "PONG");
}

TEST_CASE("an unreachable Redis is UNAVAILABLE, not a crash", "[redis]") {
  redis::PoolOptions options;
  options.port = testing::FreePort();
  options.timeout = std::chrono::milliseconds(200);
  CHECK(redis::Pool::Create(options).status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("a gateway's stream outlives its heartbeats by two minutes only", "[redis]") {
  auto pool = Connect(1);
  presence::Presence presence(pool.get());
  std::string gateway = "test-" + std::to_string(testing::RandomSdkAppId());
  REQUIRE(presence.Append(gateway, {"events", 1, "", "", "payload"}).ok());
  std::string stream = presence::GatewayStream(gateway);
  CHECK(pool->Command({"TTL", stream})->integer() == -1);  // no heartbeat yet
  REQUIRE(presence.HeartbeatGateway(gateway, 15).ok());
  int64_t ttl = pool->Command({"TTL", stream})->integer();
  CHECK(ttl > 100);
  CHECK(ttl <= 120);
  CHECK(pool->Command({"TTL", stream + ":alive"})->integer() > 0);
  REQUIRE(pool->Command({"DEL", stream, stream + ":alive"}).ok());
}

TEST_CASE("a gateway's stream keeps only the last 30 s of entries", "[redis]") {
  auto pool = Connect(1);
  presence::Presence presence(pool.get());
  std::string gateway = "test-" + std::to_string(testing::RandomSdkAppId());
  std::string stream = presence::GatewayStream(gateway);
  // 300 entries from a minute ago fill whole stream nodes, which trimming
  // drops at once.
  int64_t minute_ago = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count() -
                       60000;
  for (int i = 0; i < 300; ++i) {
    REQUIRE(pool->Command({"XADD", stream, std::to_string(minute_ago) + "-" + std::to_string(i),
                           "type", "events"})
                .ok());
  }
  REQUIRE(presence.Append(gateway, {"events", 1, "", "", "payload"}).ok());
  int64_t kept = pool->Command({"XLEN", stream})->integer();
  CHECK(kept >= 1);
  CHECK(kept <= 101);  // at most the node the new entry shares with old ones
  auto newest = pool->Command({"XREVRANGE", stream, "+", "-", "COUNT", "1"});
  REQUIRE(newest.ok());
  CHECK(newest->size() == 1);
  REQUIRE(pool->Command({"DEL", stream}).ok());
}

TEST_CASE("a starting gateway reads from after its stream's newest entry", "[redis]") {
  auto pool = Connect(1);
  presence::Presence presence(pool.get());
  std::string gateway = "test-" + std::to_string(testing::RandomSdkAppId());
  std::string stream = presence::GatewayStream(gateway);
  auto none = presence.NewestStreamId(gateway);
  REQUIRE(none.ok());
  CHECK(*none == "0-0");  // no stream yet: everything appended later is read
  REQUIRE(presence.Append(gateway, {"events", 1, "", "", "older"}).ok());
  REQUIRE(presence.Append(gateway, {"events", 1, "", "", "newer"}).ok());
  auto newest = presence.NewestStreamId(gateway);
  REQUIRE(newest.ok());
  auto entries = pool->Command({"XRANGE", stream, "-", "+"});
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 2);
  CHECK(*newest == std::string(entries->raw()->element[1]->element[0]->str));
  REQUIRE(pool->Command({"DEL", stream}).ok());
}
