// Gathers client sends into SendFromClients calls to the message service.
//
// A send goes out at once while fewer than max_in_flight calls are pending;
// otherwise it waits for the next call to finish and rides with every other
// send that queued meanwhile. Light load adds no delay, and under heavy load
// one call (and one gRPC round trip on each side) carries many messages, which
// the message service stores in one transaction. Each sender's order is kept
// by its session, which has one send in flight at a time.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/rpc/caller.h"
#include "parley/v1/message.grpc.pb.h"

namespace parley::gateway {

struct SendBatcherOptions {
  size_t max_in_flight = 4;
  // Bounded so a call stays far below gRPC's 4 MB message limit (12 KB bodies).
  size_t max_sends_per_call = 128;
  std::chrono::milliseconds deadline{3000};
};

class SendBatcher {
 public:
  // The message service's answer; errors carry the Tencent code.
  using Done = std::function<void(absl::StatusOr<v1::SendC2CResponse>)>;

  SendBatcher(v1::MessageService::StubInterface* messages, SendBatcherOptions options);

  // Sends for `user` (a logged-in end user, never an admin). `done` runs on a
  // gRPC callback thread.
  void Send(const rpc::Caller& user, v1::SendC2CRequest request, Done done);

 private:
  struct Waiting {
    v1::ClientSend send;
    Done done;
  };
  using Batch = std::pair<uint64_t, std::vector<Waiting>>;  // one app's sends

  // Takes what may go out now: one call per app with waiting sends.
  std::vector<Batch> TakeLocked();
  void Issue(Batch batch);
  void Finished();

  v1::MessageService::StubInterface* messages_;
  SendBatcherOptions options_;
  std::mutex mu_;
  std::map<uint64_t, std::vector<Waiting>> waiting_;  // by SDKAppID
  size_t in_flight_ = 0;
};

}  // namespace parley::gateway
