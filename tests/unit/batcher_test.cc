// batching::Batcher: group commit's gathering, ordering and failure paths.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "parley/batching/batcher.h"

using parley::batching::Batcher;

namespace {

// A handler that records each batch it got and can be held inside a batch,
// so callers queue behind it.
struct RecordingHandler {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<int>> batches;
  bool hold = false;
  bool entered = false;

  std::vector<int> operator()(const std::vector<int>& items) {
    std::unique_lock lock(mu);
    batches.push_back(items);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [this] { return !hold; });
    std::vector<int> doubled;
    for (int item : items) doubled.push_back(item * 2);
    return doubled;
  }
  void WaitEntered() {
    std::unique_lock lock(mu);
    cv.wait(lock, [this] { return entered; });
  }
  void Release() {
    std::lock_guard lock(mu);
    hold = false;
    cv.notify_all();
  }
};

// A batcher whose first batch ({first_item}) is held in the handler, so
// what is submitted next queues behind it until Release().
struct HeldBatcher {
  RecordingHandler handler;
  Batcher<int, int> batcher;
  std::future<std::vector<int>> first;

  HeldBatcher(size_t max_items, int first_item)
      : batcher(max_items, [this](const std::vector<int>& items) { return handler(items); }) {
    handler.hold = true;
    first = batcher.Submit({first_item});
    handler.WaitEntered();
  }
  std::vector<std::vector<int>> Batches() {
    std::lock_guard lock(handler.mu);
    return handler.batches;
  }
};

}  // namespace

TEST_CASE("what queues during a batch goes into the next one, in order, each caller its own",
          "[batcher]") {
  HeldBatcher held(100, 1);
  auto second = held.batcher.Submit({2, 3});
  auto third = held.batcher.Submit({4});
  held.handler.Release();
  CHECK(held.first.get() == std::vector<int>{2});
  CHECK(second.get() == std::vector<int>{4, 6});
  CHECK(third.get() == std::vector<int>{8});
  CHECK(held.Batches() == std::vector<std::vector<int>>{{1}, {2, 3, 4}});
}

TEST_CASE("a batch stops at max_items, but one caller's items are never split", "[batcher]") {
  HeldBatcher held(3, 0);
  auto a = held.batcher.Submit({1, 2});
  auto b = held.batcher.Submit({3, 4});        // would make 4: waits for the next batch
  auto c = held.batcher.Submit({5, 6, 7, 8});  // more than max_items alone: a batch of its own
  held.handler.Release();
  CHECK(c.get() == std::vector<int>{10, 12, 14, 16});
  CHECK(a.get() == std::vector<int>{2, 4});
  CHECK(b.get() == std::vector<int>{6, 8});
  held.first.get();
  CHECK(held.Batches() == std::vector<std::vector<int>>{{0}, {1, 2}, {3, 4}, {5, 6, 7, 8}});
}

TEST_CASE("a handler that throws, or answers the wrong count, fails its whole batch only",
          "[batcher]") {
  std::atomic<int> calls{0};
  Batcher<int, int> batcher(100, [&](const std::vector<int>& items) {
    ++calls;
    if (items.front() < 0) throw std::runtime_error("store down");
    if (items.front() == 0) return std::vector<int>{};  // a buggy handler
    return items;
  });
  auto thrown = batcher.Submit({-1, 5});
  CHECK_THROWS_WITH(thrown.get(), "store down");
  CHECK_THROWS_AS(batcher.Submit({0}).get(), std::logic_error);
  // The batcher lives on.
  CHECK(batcher.Submit({7}).get() == std::vector<int>{7});
  CHECK(calls == 3);
}

TEST_CASE("destruction handles what is queued first", "[batcher]") {
  RecordingHandler handler;
  handler.hold = true;
  std::future<std::vector<int>> queued;
  std::future<std::vector<int>> first;
  {
    Batcher<int, int> batcher(100, [&](const std::vector<int>& items) { return handler(items); });
    first = batcher.Submit({1});
    handler.WaitEntered();
    queued = batcher.Submit({2});
    handler.Release();
  }
  CHECK(first.get() == std::vector<int>{2});
  CHECK(queued.get() == std::vector<int>{4});
}

TEST_CASE("a lingering batcher gathers items that come within the linger into one batch",
          "[batcher]") {
  std::mutex mu;
  std::vector<size_t> sizes;
  Batcher<int, int> batcher(
      3,
      [&](const std::vector<int>& items) {
        std::lock_guard lock(mu);
        sizes.push_back(items.size());
        return items;
      },
      std::chrono::milliseconds(5000));
  // Two submissions well within the linger share a batch; a third fills
  // max_items, which ends the wait at once instead of after 5 s.
  auto start = std::chrono::steady_clock::now();
  auto a = batcher.Submit({1});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto b = batcher.Submit({2});
  auto c = batcher.Submit({3});
  CHECK(a.get() == std::vector<int>{1});
  CHECK(b.get() == std::vector<int>{2});
  CHECK(c.get() == std::vector<int>{3});
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
  std::lock_guard lock(mu);
  CHECK(sizes == std::vector<size_t>{3});
}
