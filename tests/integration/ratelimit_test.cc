// The shared frequency limiter on a real Redis: two replicas together never
// get more than the limit in one second, and each second starts afresh.
#include <catch2/catch.hpp>

#include "parley/ratelimit/ratelimit.h"
#include "parley/redis/pool.h"
#include "support/process.h"
#include "support/test_cluster.h"

using namespace parley;

TEST_CASE("replicas share one budget per key and second", "[ratelimit]") {
  auto options = redis::Pool::ParseAddress(testing::RequireEnv("PARLEY_TEST_REDIS_ADDR"));
  REQUIRE(options.ok());
  auto pool = redis::Pool::Create(*options);
  REQUIRE(pool.ok());
  int64_t now = 1000000 + static_cast<int64_t>(testing::RandomSdkAppId()) * 1000;
  auto clock = [&now] { return now; };
  std::string prefix = "parley:test:rl:" + std::to_string(testing::RandomSdkAppId()) + ":";
  ratelimit::SharedLimiter a(pool->get(), prefix, clock), b(pool->get(), prefix, clock);

  int allowed = 0;
  int64_t seen = 0;
  for (int i = 0; i < 100; ++i) {
    auto result = (i % 2 ? a : b).Acquire("app:openim/sendmsg", 37);
    allowed += result.allowed ? 1 : 0;
    seen = std::max(seen, result.seen);
  }
  CHECK(allowed == 37);
  CHECK(seen >= 37);
  // Another key has its own budget.
  CHECK(a.Acquire("app:openim/batchsendmsg", 37).allowed);
  // The next second starts afresh.
  now += 1000;
  allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += (i % 2 ? a : b).Acquire("app:openim/sendmsg", 37).allowed;
  CHECK(allowed == 37);
}
