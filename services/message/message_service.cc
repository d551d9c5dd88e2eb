#include "message_service.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/rpc/client.h"
#include "parley/rpc/serve.h"
#include "validation.h"

namespace parley::message {
namespace {

// openim codes (compat reference §2.5).
constexpr int32_t kFromInvalid = 90008;
constexpr int32_t kToInvalid = 90003;
constexpr int32_t kRandomMissing = 90005;
constexpr int32_t kTooManyTargets = 90011;
constexpr int32_t kToNotRegistered = 90012;
constexpr int32_t kLifeTimeTooLarge = 90026;
constexpr int32_t kBatchToNotArray = 90028;
constexpr int32_t kBatchToEmpty = 90029;
constexpr int32_t kInternal = 90994;
constexpr int32_t kSenderInvalid = 20003;
constexpr int64_t kMaxLifeTime = 604800;
constexpr size_t kMaxBatchTargets = 500;
constexpr uint32_t kMaxSyncPage = 200;

uint32_t RandomU32() {
  uint32_t value = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof(value));
  return value;
}

bool ValidUserId(const std::string& id) {
  if (id.empty() || id.size() > 32) return false;
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json);
  return json;
}

bool Has(const google::protobuf::RepeatedPtrField<std::string>& list, const char* value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

MessageLogic::MessageLogic(MessageStore* store, BatchWriter* writer, Deliverer* deliverer,
                           std::shared_ptr<v1::AuthService::StubInterface> auth, Clock now)
    : store_(store), writer_(writer), deliverer_(deliverer), auth_(std::move(auth)),
      now_(std::move(now)) {}

absl::StatusOr<std::set<std::string>> MessageLogic::ExistingUsers(
    uint64_t sdkappid, const std::vector<std::string>& users) {
  std::set<std::string> existing;
  v1::AccountsExistRequest request;
  int64_t now = now_();
  for (const auto& user : users) {
    if (existing_users_.Get(absl::StrCat(sdkappid, "\n", user), now)) {
      existing.insert(user);
    } else {
      request.add_user_ids(user);
    }
  }
  if (request.user_ids_size() == 0) return existing;
  rpc::Caller caller{sdkappid, "parley-message", true};
  auto context = rpc::NewContext(&caller);
  v1::AccountsExistResponse response;
  grpc::Status status = auth_->AccountsExist(context.get(), request, &response);
  if (!status.ok()) return errors::FromGrpc(status);
  for (const auto& user : response.existing()) {
    existing.insert(user);
    existing_users_.Put(absl::StrCat(sdkappid, "\n", user), true, now + 60);
  }
  return existing;
}

absl::StatusOr<SendJob> MessageLogic::PrepareJob(const rpc::Caller& caller,
                                                 const v1::SendC2CRequest& request,
                                                 bool* online_only) {
  SendJob job;
  job.sdkappid = caller.sdkappid;
  job.from = request.from_account().empty() ? caller.identifier : request.from_account();
  if (!caller.is_admin && job.from != caller.identifier) {
    return errors::Error(kSenderInvalid, "a user can only send as themselves");
  }
  if (!ValidUserId(job.from)) return errors::Error(kFromInvalid, "From_Account is invalid");
  job.to = request.to_account();
  if (!ValidUserId(job.to)) return errors::Error(kToInvalid, "To_Account is missing or invalid");
  if (request.has_msg_random()) {
    job.random = request.msg_random();
  } else if (caller.is_admin) {
    return errors::Error(kRandomMissing, "MsgRandom is missing");
  } else {
    job.random = RandomU32();
  }
  *online_only = false;
  if (request.has_msg_life_time()) {
    if (request.msg_life_time() < 0 || request.msg_life_time() > kMaxLifeTime) {
      return errors::Error(kLifeTimeTooLarge, "MsgLifeTime must be 0 to 604800");
    }
    *online_only = request.msg_life_time() == 0;
  }
  job.body_json = ToJson(request.msg_body());
  if (auto st = ValidateMsgBody(request.msg_body(),
                                job.body_json.size() + request.cloud_custom_data().size());
      !st.ok()) {
    return st;
  }
  job.cloud_custom_data = request.cloud_custom_data();
  if (request.has_offline_push_info()) job.offline_push_json = ToJson(request.offline_push_info());
  job.client_msg_id = request.client_msg_id();
  if (!request.client_msg_id().empty()) {
    job.dedup_key = "c:" + request.client_msg_id();
  } else if (request.has_msg_random()) {
    job.dedup_key = absl::StrCat("r:", request.msg_random());
  }
  job.msg_seq = request.msg_seq();
  job.time = caller.is_admin && request.msg_time_stamp() ? request.msg_time_stamp() : now_();
  job.store_for_sender = request.sync_other_machine() != 2;
  job.count_unread = !Has(request.send_msg_control(), "NoUnread");
  job.update_last_message = !Has(request.send_msg_control(), "NoLastMsg");
  return job;
}

namespace {

v1::TimelineEvent MessageEvent(const SendJob& job, uint64_t seq, const std::string& peer,
                               const std::string& msg_key, uint32_t msg_seq,
                               const v1::SendC2CRequest& request) {
  v1::TimelineEvent event;
  event.set_seq(seq);
  event.set_kind(v1::TimelineEvent::KIND_MESSAGE);
  event.set_peer(peer);
  event.set_msg_key(msg_key);
  event.set_event_time(static_cast<uint32_t>(job.time));
  auto* m = event.mutable_message();
  m->set_from_account(job.from);
  m->set_to_account(job.to);
  m->set_msg_seq(msg_seq);
  m->set_msg_random(job.random);
  m->set_msg_time_stamp(static_cast<uint32_t>(job.time));
  m->set_msg_key(msg_key);
  *m->mutable_msg_body() = request.msg_body();
  m->set_cloud_custom_data(job.cloud_custom_data);
  m->set_client_msg_id(job.client_msg_id);
  if (request.has_offline_push_info()) *m->mutable_offline_push_info() = request.offline_push_info();
  return event;
}

}  // namespace

void MessageLogic::DeliverStored(uint64_t sdkappid, const SendJob& job, const SendResult& result,
                                 const v1::SendC2CRequest& request) {
  v1::Delivery to_receiver;
  to_receiver.set_user_id(job.to);
  *to_receiver.mutable_event() =
      MessageEvent(job, result.receiver_seq, job.from, result.msg_key, result.msg_seq, request);
  deliverer_->Enqueue(sdkappid, std::move(to_receiver));
  if (result.sender_seq != 0) {
    v1::Delivery to_sender;
    to_sender.set_user_id(job.from);
    *to_sender.mutable_event() =
        MessageEvent(job, result.sender_seq, job.to, result.msg_key, result.msg_seq, request);
    deliverer_->Enqueue(sdkappid, std::move(to_sender));
  }
}

absl::StatusOr<v1::SendC2CResponse> MessageLogic::SendC2C(const rpc::Caller& caller,
                                                          const v1::SendC2CRequest& request) {
  bool online_only = false;
  auto job = PrepareJob(caller, request, &online_only);
  if (!job.ok()) return job.status();
  std::vector<std::string> check = {job->to};
  if (caller.is_admin) check.push_back(job->from);
  auto existing = ExistingUsers(caller.sdkappid, check);
  if (!existing.ok()) return existing.status();
  if (!existing->count(job->to)) return errors::Error(kToNotRegistered, "To_Account not registered");
  // A logged-in client exists by definition (login registers it).
  if (caller.is_admin && !existing->count(job->from)) {
    return errors::Error(kFromInvalid, "From_Account not registered");
  }

  v1::SendC2CResponse response;
  if (online_only) {
    // Not stored: only sessions online now get it, with seq 0.
    uint32_t msg_seq = job->msg_seq ? job->msg_seq : RandomU32();
    std::string msg_key = absl::StrCat(msg_seq, "_", job->random, "_", job->time);
    v1::Delivery delivery;
    delivery.set_user_id(job->to);
    *delivery.mutable_event() = MessageEvent(*job, 0, job->from, msg_key, msg_seq, request);
    deliverer_->Enqueue(caller.sdkappid, std::move(delivery));
    response.set_msg_time(static_cast<uint32_t>(job->time));
    response.set_msg_key(msg_key);
    response.set_msg_id(msg_key);
    response.set_msg_seq(msg_seq);
    return response;
  }
  auto results = writer_->Submit({*job}).get();
  if (!results[0].ok()) {
    log::Error("send_failed", {{"sdkappid", caller.sdkappid},
                               {"error", std::string(results[0].status().message())}});
    return errors::Error(kInternal, "the message could not be stored; retry with the same MsgRandom");
  }
  const SendResult& result = *results[0];
  if (!result.duplicate) DeliverStored(caller.sdkappid, *job, result, request);
  response.set_msg_time(static_cast<uint32_t>(result.msg_time));
  response.set_msg_key(result.msg_key);
  response.set_msg_id(result.msg_key);
  response.set_msg_seq(result.msg_seq);
  response.set_sender_seq(result.sender_seq);
  response.set_duplicate(result.duplicate);
  return response;
}

absl::StatusOr<v1::BatchSendC2CResponse> MessageLogic::BatchSendC2C(
    const rpc::Caller& caller, const v1::BatchSendC2CRequest& request) {
  if (request.to_account().kind_case() != google::protobuf::Value::kListValue) {
    return errors::Error(kBatchToNotArray, "To_Account must be an array");
  }
  const auto& targets = request.to_account().list_value().values();
  if (targets.empty()) return errors::Error(kBatchToEmpty, "To_Account is empty");
  if (static_cast<size_t>(targets.size()) > kMaxBatchTargets) {
    return errors::Error(kTooManyTargets, "To_Account has more than 500 accounts");
  }
  v1::SendC2CRequest one;
  one.set_sync_other_machine(request.sync_other_machine());
  one.set_from_account(request.from_account());
  if (request.has_msg_life_time()) one.set_msg_life_time(request.msg_life_time());
  // One MsgKey for all recipients: the same MsgSeq, random and time.
  one.set_msg_seq(request.msg_seq() ? request.msg_seq() : RandomU32());
  if (request.has_msg_random()) one.set_msg_random(request.msg_random());
  *one.mutable_msg_body() = request.msg_body();
  one.set_cloud_custom_data(request.cloud_custom_data());
  *one.mutable_send_msg_control() = request.send_msg_control();
  if (request.has_offline_push_info()) *one.mutable_offline_push_info() = request.offline_push_info();

  v1::BatchSendC2CResponse response;
  std::vector<std::string> users;
  for (const auto& target : targets) {
    if (target.kind_case() != google::protobuf::Value::kStringValue) {
      return errors::Error(kBatchToNotArray, "To_Account must be an array of strings");
    }
    users.push_back(target.string_value());
  }
  std::string from = request.from_account().empty() ? caller.identifier : request.from_account();
  users.push_back(from);
  auto existing = ExistingUsers(caller.sdkappid, users);
  if (!existing.ok()) return existing.status();
  users.pop_back();
  if (!existing->count(from)) return errors::Error(kFromInvalid, "From_Account not registered");

  std::vector<SendJob> jobs;
  std::vector<std::string> job_targets;
  bool online_only = false;
  for (const auto& user : users) {
    one.set_to_account(user);
    auto job = PrepareJob(caller, one, &online_only);
    if (!job.ok()) {
      int32_t code = errors::TencentCode(job.status(), kInternal);
      if (code != kToInvalid) return job.status();  // the message itself is bad
      auto* error = response.add_error_list();
      error->set_to_account(user);
      error->set_error_code(code);
      continue;
    }
    if (!existing->count(user)) {
      auto* error = response.add_error_list();
      error->set_to_account(user);
      error->set_error_code(kToNotRegistered);
      continue;
    }
    if (response.msg_key().empty()) {
      response.set_msg_key(absl::StrCat(one.msg_seq(), "_", job->random, "_", job->time));
      response.set_msg_id(response.msg_key());
    }
    jobs.push_back(std::move(*job));
  }
  if (online_only) {
    for (const auto& job : jobs) {
      v1::Delivery delivery;
      delivery.set_user_id(job.to);
      one.set_to_account(job.to);
      *delivery.mutable_event() = MessageEvent(job, 0, job.from, response.msg_key(), one.msg_seq(), one);
      deliverer_->Enqueue(caller.sdkappid, std::move(delivery));
    }
    return response;
  }
  auto results = writer_->Submit(jobs).get();
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!results[i].ok()) {
      auto* error = response.add_error_list();
      error->set_to_account(jobs[i].to);
      error->set_error_code(kInternal);
      continue;
    }
    if (!results[i]->duplicate) {
      one.set_to_account(jobs[i].to);
      DeliverStored(caller.sdkappid, jobs[i], *results[i], one);
    }
  }
  return response;
}

absl::StatusOr<v1::SyncResponse> MessageLogic::Sync(const rpc::Caller& caller,
                                                    const v1::SyncRequest& request) {
  uint32_t limit = request.limit() == 0 || request.limit() > kMaxSyncPage ? kMaxSyncPage
                                                                          : request.limit();
  return store_->Sync(caller.sdkappid, caller.identifier, request.after_seq(), limit);
}

grpc::Status MessageGrpcService::SendC2C(grpc::ServerContext* context,
                                         const v1::SendC2CRequest* request,
                                         v1::SendC2CResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->SendC2C(c, r);
  });
}

grpc::Status MessageGrpcService::BatchSendC2C(grpc::ServerContext* context,
                                              const v1::BatchSendC2CRequest* request,
                                              v1::BatchSendC2CResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->BatchSendC2C(c, r);
  });
}

grpc::Status MessageGrpcService::Sync(grpc::ServerContext* context, const v1::SyncRequest* request,
                                      v1::SyncResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->Sync(c, r);
  });
}

}  // namespace parley::message
