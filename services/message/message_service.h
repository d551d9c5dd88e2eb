// The message service: C2C sends (REST and client), timelines and sync.
//
// MessageLogic holds the behaviour and is what tests construct;
// MessageGrpcService adapts it to gRPC. Thread-safe.
#pragma once

#include <functional>
#include <memory>

#include "batch_writer.h"
#include "deliverer.h"
#include "message_store.h"
#include "parley/cache/ttl_cache.h"
#include "parley/rpc/caller.h"
#include "parley/v1/auth.grpc.pb.h"
#include "parley/v1/message.grpc.pb.h"

namespace parley::message {

class MessageLogic {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds

  MessageLogic(MessageStore* store, BatchWriter* writer, Deliverer* deliverer,
               std::shared_ptr<v1::AuthService::StubInterface> auth, Clock now);

  absl::StatusOr<v1::SendC2CResponse> SendC2C(const rpc::Caller& caller,
                                              const v1::SendC2CRequest& request);
  absl::StatusOr<v1::BatchSendC2CResponse> BatchSendC2C(const rpc::Caller& caller,
                                                        const v1::BatchSendC2CRequest& request);
  absl::StatusOr<v1::SyncResponse> Sync(const rpc::Caller& caller, const v1::SyncRequest& request);

 private:
  // The subset of `users` that exist (cached: existing users for a minute).
  absl::StatusOr<std::set<std::string>> ExistingUsers(uint64_t sdkappid,
                                                      const std::vector<std::string>& users);
  // Builds the job of one send; errors carry openim codes.
  absl::StatusOr<SendJob> PrepareJob(const rpc::Caller& caller, const v1::SendC2CRequest& request,
                                     bool* online_only);
  void DeliverStored(uint64_t sdkappid, const SendJob& job, const SendResult& result,
                     const v1::SendC2CRequest& request);

  MessageStore* store_;
  BatchWriter* writer_;
  Deliverer* deliverer_;
  std::shared_ptr<v1::AuthService::StubInterface> auth_;
  Clock now_;
  cache::TtlCache<std::string, bool> existing_users_{200000};
};

class MessageGrpcService final : public v1::MessageService::Service {
 public:
  explicit MessageGrpcService(MessageLogic* logic) : logic_(logic) {}
  grpc::Status SendC2C(grpc::ServerContext* context, const v1::SendC2CRequest* request,
                       v1::SendC2CResponse* response) override;
  grpc::Status BatchSendC2C(grpc::ServerContext* context, const v1::BatchSendC2CRequest* request,
                            v1::BatchSendC2CResponse* response) override;
  grpc::Status Sync(grpc::ServerContext* context, const v1::SyncRequest* request,
                    v1::SyncResponse* response) override;

 private:
  MessageLogic* logic_;
};

}  // namespace parley::message
