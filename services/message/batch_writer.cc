#include "batch_writer.h"

#include "parley/metrics/metrics.h"

namespace parley::message {

BatchWriter::BatchWriter(MessageStore* store, size_t max_batch)
    : store_(store), max_batch_(max_batch), thread_([this] { Run(); }) {}

BatchWriter::~BatchWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::future<std::vector<absl::StatusOr<SendResult>>> BatchWriter::Submit(
    std::vector<SendJob> jobs) {
  Pending pending{std::move(jobs), {}};
  auto future = pending.done.get_future();
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(pending));
  }
  cv_.notify_one();
  return future;
}

void BatchWriter::Run() {
  auto& commit_seconds = metrics::Registry::Default().GetHistogram(
      "parley_message_commit_seconds", "time to persist one batch of messages");
  auto& committed = metrics::Registry::Default().GetCounter("parley_message_committed_total",
                                                            "messages persisted");
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      // Everything that queued while the last batch committed goes in this one.
      size_t jobs = 0;
      while (!queue_.empty() && (jobs == 0 || jobs + queue_.front().jobs.size() <= max_batch_)) {
        jobs += queue_.front().jobs.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<SendJob> all;
    for (auto& p : batch) all.insert(all.end(), p.jobs.begin(), p.jobs.end());
    auto start = std::chrono::steady_clock::now();
    auto results = store_->SendBatch(all);
    commit_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    committed.Increment(all.size());
    size_t offset = 0;
    for (auto& p : batch) {
      std::vector<absl::StatusOr<SendResult>> mine(results.begin() + offset,
                                                   results.begin() + offset + p.jobs.size());
      offset += p.jobs.size();
      p.done.set_value(std::move(mine));
    }
  }
}

}  // namespace parley::message
