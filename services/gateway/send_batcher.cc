#include "send_batcher.h"

#include <utility>

#include "parley/errors/errors.h"
#include "parley/rpc/client.h"
#include "parley/rpc/tls.h"

namespace parley::gateway {

SendBatcher::SendBatcher(v1::MessageService::StubInterface* messages, SendBatcherOptions options)
    : messages_(messages), options_(options) {}

void SendBatcher::Send(const rpc::Caller& user, v1::SendC2CRequest request, Done done) {
  Waiting waiting;
  waiting.send.set_user_id(user.identifier);
  waiting.send.set_platform(user.platform);
  waiting.send.set_client_ip(user.client_ip);
  *waiting.send.mutable_request() = std::move(request);
  waiting.done = std::move(done);
  std::vector<Batch> ready;
  {
    std::lock_guard lock(mu_);
    waiting_[user.sdkappid].push_back(std::move(waiting));
    if (in_flight_ < options_.max_in_flight) ready = TakeLocked();
  }
  for (auto& batch : ready) Issue(std::move(batch));
}

std::vector<SendBatcher::Batch> SendBatcher::TakeLocked() {
  std::vector<Batch> ready;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    auto& sends = it->second;
    Batch batch{it->first, {}};
    if (sends.size() <= options_.max_sends_per_call) {
      batch.second = std::move(sends);
      it = waiting_.erase(it);
    } else {
      auto cut = sends.begin() + static_cast<std::ptrdiff_t>(options_.max_sends_per_call);
      batch.second.assign(std::make_move_iterator(sends.begin()), std::make_move_iterator(cut));
      sends.erase(sends.begin(), cut);
      ++it;
    }
    ready.push_back(std::move(batch));
  }
  in_flight_ += ready.size();
  return ready;
}

void SendBatcher::Issue(Batch batch) {
  rpc::Caller gateway = rpc::ServiceCaller(batch.first, rpc::kGatewayIdentity);
  auto call = rpc::NewAsyncCall<v1::SendFromClientsRequest, v1::SendFromClientsResponse>(
      &gateway, options_.deadline);
  auto dones = std::make_shared<std::vector<Done>>();
  dones->reserve(batch.second.size());
  for (auto& waiting : batch.second) {
    *call->request.add_sends() = std::move(waiting.send);
    dones->push_back(std::move(waiting.done));
  }
  messages_->async()->SendFromClients(
      call->context.get(), &call->request, &call->response,
      [this, call, dones](grpc::Status status) {
        // Let the next call go before answering: the answers start new sends.
        Finished();
        const auto& outcomes = call->response.outcomes();
        for (size_t i = 0; i < dones->size(); ++i) {
          if (!status.ok()) {
            (*dones)[i](errors::FromGrpc(status));
          } else if (i >= static_cast<size_t>(outcomes.size())) {
            // No Tencent code: the session answers with its own internal-error code.
            (*dones)[i](absl::InternalError("the message service gave no answer"));
          } else if (outcomes[i].error_code() != 0) {
            (*dones)[i](errors::Error(outcomes[i].error_code(), outcomes[i].error_info()));
          } else {
            (*dones)[i](outcomes[i].response());
          }
        }
      });
}

void SendBatcher::Finished() {
  std::vector<Batch> ready;
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    if (in_flight_ < options_.max_in_flight) ready = TakeLocked();
  }
  for (auto& batch : ready) Issue(std::move(batch));
}

}  // namespace parley::gateway
