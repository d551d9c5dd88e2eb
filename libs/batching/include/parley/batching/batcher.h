// Group commit for any store: items submitted from many threads are handed
// to one worker thread in batches, so one database round trip (and one
// commit) serves many callers. Everything that queued while the previous
// batch ran goes into the next one, up to max_items: at low load a batch is
// one caller's items and adds no waiting; under load batches grow by
// themselves. A caller waits only for its own batch.
//
//   Batcher<Job, Result> batcher(256, [&](const std::vector<Job>& jobs) {
//     return store.WriteAll(jobs);  // one Result per job, in order
//   });
//   std::vector<Result> mine = batcher.Submit({job}).get();
//
// Work nobody waits on (events queued after the fact) can trade delay for
// fewer, larger batches: with a linger, the worker waits up to that long
// after a batch's first item for more, unless max_items are queued already.
//
// Thread-safe. The handler runs on the batcher's own thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace parley::batching {

template <class Item, class Result>
class Batcher {
 public:
  // Gets a batch's items in submission order; returns one result per item.
  using Handler = std::function<std::vector<Result>(const std::vector<Item>&)>;

  Batcher(size_t max_items, Handler handler,
          std::chrono::milliseconds linger = std::chrono::milliseconds(0))
      : max_items_(max_items),
        linger_(linger),
        handler_(std::move(handler)),
        thread_([this] { Run(); }) {}

  // Runs what is queued, then stops.
  ~Batcher() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Resolves once the batch holding `items` has been handled, with their
  // results in order. The items of one call always share a batch.
  std::future<std::vector<Result>> Submit(std::vector<Item> items) {
    Pending pending{std::move(items), {}};
    auto future = pending.done.get_future();
    {
      std::lock_guard lock(mu_);
      queued_items_ += pending.items.size();
      queue_.push_back(std::move(pending));
    }
    cv_.notify_one();
    return future;
  }

 private:
  struct Pending {
    std::vector<Item> items;
    std::promise<std::vector<Result>> done;
  };

  void Run() {
    for (;;) {
      std::vector<Pending> batch;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty() && stopping_) return;
        if (linger_.count() > 0) {
          cv_.wait_for(lock, linger_,
                       [this] { return stopping_ || queued_items_ >= max_items_; });
        }
        size_t items = 0;
        while (!queue_.empty() &&
               (items == 0 || items + queue_.front().items.size() <= max_items_)) {
          items += queue_.front().items.size();
          queued_items_ -= queue_.front().items.size();
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      std::vector<Item> all;
      for (auto& pending : batch) {
        all.insert(all.end(), std::make_move_iterator(pending.items.begin()),
                   std::make_move_iterator(pending.items.end()));
      }
      std::vector<Result> results;
      std::exception_ptr error;
      try {
        results = handler_(all);
        if (results.size() != all.size()) {
          throw std::logic_error("batch handler returned a result count unlike its item count");
        }
      } catch (...) {
        error = std::current_exception();
      }
      if (error) {
        // Every caller of the batch sees the handler's exception from get().
        for (auto& pending : batch) pending.done.set_exception(error);
        continue;
      }
      size_t offset = 0;
      for (auto& pending : batch) {
        size_t count = pending.items.size();
        pending.done.set_value(std::vector<Result>(
            std::make_move_iterator(results.begin() + offset),
            std::make_move_iterator(results.begin() + offset + count)));
        offset += count;
      }
    }
  }

  const size_t max_items_;
  const std::chrono::milliseconds linger_;
  const Handler handler_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  size_t queued_items_ = 0;  // items in queue_
  bool stopping_ = false;
  std::thread thread_;  // last: starts after everything it uses
};

}  // namespace parley::batching
