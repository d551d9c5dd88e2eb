#include "batch_writer.h"

#include <chrono>

#include "parley/metrics/metrics.h"

namespace parley::message {

BatchWriter::BatchWriter(MessageStore* store, size_t max_batch)
    : store_(store), batcher_(max_batch, [this](const std::vector<SendJob>& jobs) {
        return Write(jobs);
      }) {}

std::vector<absl::StatusOr<SendResult>> BatchWriter::Write(const std::vector<SendJob>& jobs) {
  static auto& commit_seconds = metrics::Registry::Default().GetHistogram(
      "parley_message_commit_seconds", "time to persist one batch of messages");
  static auto& committed = metrics::Registry::Default().GetCounter(
      "parley_message_committed_total", "messages persisted");
  auto start = std::chrono::steady_clock::now();
  auto results = store_->SendBatch(jobs);
  commit_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  committed.Increment(jobs.size());
  return results;
}

}  // namespace parley::message
