// Group commit of sends: sends from many callers are persisted together, one
// statement set and one commit per batch, so throughput is not bounded by one
// fsync per message. A caller waits only for its own batch's commit.
#pragma once

#include <future>
#include <vector>

#include "message_store.h"
#include "parley/batching/batcher.h"

namespace parley::message {

class BatchWriter {
 public:
  BatchWriter(MessageStore* store, size_t max_batch);

  // The future resolves after the batch holding these jobs committed (or
  // failed). Results match `jobs`.
  std::future<std::vector<absl::StatusOr<SendResult>>> Submit(std::vector<SendJob> jobs) {
    return batcher_.Submit(std::move(jobs));
  }

 private:
  std::vector<absl::StatusOr<SendResult>> Write(const std::vector<SendJob>& jobs);

  MessageStore* store_;
  batching::Batcher<SendJob, absl::StatusOr<SendResult>> batcher_;  // last: its thread uses store_
};

}  // namespace parley::message
