// Group commit: sends from many callers are persisted together, one
// transaction and one commit per batch, so throughput is not bounded by one
// fsync per message. A caller waits only for its own batch's commit.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "message_store.h"

namespace parley::message {

class BatchWriter {
 public:
  BatchWriter(MessageStore* store, size_t max_batch);
  // Persists what is queued, then stops.
  ~BatchWriter();

  // The future resolves after the batch holding these jobs committed (or
  // failed). Results match `jobs`.
  std::future<std::vector<absl::StatusOr<SendResult>>> Submit(std::vector<SendJob> jobs);

 private:
  struct Pending {
    std::vector<SendJob> jobs;
    std::promise<std::vector<absl::StatusOr<SendResult>>> done;
  };
  void Run();

  MessageStore* store_;
  size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace parley::message
