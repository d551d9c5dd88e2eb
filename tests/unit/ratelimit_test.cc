#include <catch2/catch.hpp>

#include "parley/ratelimit/ratelimit.h"
#include "rest_api.h"

using parley::ratelimit::TokenBucket;

TEST_CASE("a session's token bucket allows its rate in bursts and says when to come back",
          "[ratelimit]") {
  TokenBucket bucket;
  int64_t retry = 0;
  for (int i = 0; i < 5; ++i) CHECK(bucket.Take(5, 1000, &retry));
  CHECK_FALSE(bucket.Take(5, 1000, &retry));
  CHECK(retry > 0);
  CHECK(retry <= 201);  // one token every 200 ms at 5/s
  CHECK_FALSE(bucket.Take(5, 1100, &retry));
  CHECK(bucket.Take(5, 1000 + 200, &retry));
  // Idle time refills up to one second's worth, no more.
  int allowed = 0;
  for (int i = 0; i < 20; ++i) allowed += bucket.Take(5, 60000, &retry) ? 1 : 0;
  CHECK(allowed == 5);
}

TEST_CASE("push-attribute commands keep Tencent's lower REST limit", "[ratelimit]") {
  using parley::gateway::RestApi;
  CHECK(RestApi::CommandLimit("openim", "sendmsg", 200) == 200);
  CHECK(RestApi::CommandLimit("openim", "sendmsg", 1000) == 1000);
  CHECK(RestApi::CommandLimit("all_member_push", "im_set_attr", 200) == 100);
  CHECK(RestApi::CommandLimit("all_member_push", "im_set_attr", 50) == 50);
  CHECK(RestApi::CommandLimit("all_member_push", "im_push", 200) == 200);
}
