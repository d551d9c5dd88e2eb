#include "parley/cache/ttl_cache.h"

#include <catch2/catch.hpp>
#include <string>

using parley::cache::TtlCache;

TEST_CASE("entries expire", "[cache]") {
  TtlCache<std::string, int> cache(100);
  cache.Put("a", 1, /*expires_at=*/10);
  CHECK(cache.Get("a", 9) == std::optional<int>(1));
  CHECK_FALSE(cache.Get("a", 10).has_value());
  CHECK_FALSE(cache.Get("missing", 0).has_value());
}

TEST_CASE("the cache stays bounded and keeps recently used entries", "[cache]") {
  TtlCache<int, int> cache(10);
  for (int i = 0; i < 1000; ++i) {
    cache.Put(i, i, 100);
    CHECK(cache.Get(0, 1).has_value());  // touched every round, so it survives
  }
  CHECK(cache.size() <= 10);
  CHECK_FALSE(cache.Get(500, 1).has_value());
  CHECK(cache.Get(999, 1) == std::optional<int>(999));
}

TEST_CASE("erase removes from both generations", "[cache]") {
  TtlCache<int, int> cache(4);
  cache.Put(1, 1, 100);
  cache.Put(2, 2, 100);
  cache.Put(3, 3, 100);  // 1 and 2 moved to the previous generation
  cache.Erase(1);
  cache.Erase(3);
  CHECK_FALSE(cache.Get(1, 0).has_value());
  CHECK_FALSE(cache.Get(3, 0).has_value());
  CHECK(cache.Get(2, 0).has_value());
}

TEST_CASE("a fill that an invalidation overtook is not stored", "[cache]") {
  TtlCache<int, int> cache(10);
  uint64_t ticket = cache.Ticket();
  CHECK(cache.PutIfUnchanged(1, 10, 100, ticket));
  CHECK(cache.Get(1, 0) == std::optional<int>(10));

  ticket = cache.Ticket();  // a fill of key 2 starts reading its source
  cache.Erase(3);           // a change notice arrives meanwhile
  CHECK_FALSE(cache.PutIfUnchanged(2, 20, 100, ticket));
  CHECK_FALSE(cache.Get(2, 0).has_value());

  ticket = cache.Ticket();
  cache.Clear();
  CHECK_FALSE(cache.PutIfUnchanged(2, 20, 100, ticket));
  CHECK_FALSE(cache.Get(1, 0).has_value());  // Clear dropped everything
  CHECK(cache.PutIfUnchanged(2, 21, 100, cache.Ticket()));
}
