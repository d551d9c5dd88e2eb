#include "push_service.h"

#include <map>
#include <set>

#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/redis/streams.h"
#include "push_queue.h"
#include "push_rules.h"
#include "parley/metrics/metrics.h"
#include "parley/rpc/serve.h"

namespace parley::push {
namespace {
constexpr int32_t kTooManyAccounts = 90011;
constexpr int32_t kBadAccount = 90003;
constexpr size_t kMaxStatusQuery = 500;
constexpr int32_t kNoSuchCredential = 90048;
}  // namespace

absl::Status RequireAdmin(const rpc::Caller& caller) {
  if (!caller.is_admin || caller.is_service) return errors::Error(kNeedsAdmin, "requires an app admin");
  return absl::OkStatus();
}

absl::Status QueueingOfflinePusher::Push(std::vector<v1::PushJob> jobs) {
  static auto& offline = metrics::Registry::Default().GetCounter(
      "parley_push_offline_total", "offline push jobs queued (one per message and recipient)");
  if (auto st = EnqueueJobs(*redis_, stream_, jobs); !st.ok()) return st;
  offline.Increment(jobs.size());
  return absl::OkStatus();
}

absl::Status PushLogic::QueueOfflinePushes(
    uint64_t sdkappid, const v1::DeliverRequest& request,
    std::map<std::string, std::vector<presence::Session>>& sessions) {
  // Only stored messages to the recipient notify: not recalls, edits,
  // receipts or the sender's own copy.
  struct Candidate {
    std::string user;
    v1::TimelineEvent event;
    bool ignore_receive_opt;
  };
  std::vector<Candidate> candidates;
  std::set<std::string> users;
  for (const auto& delivery : request.deliveries()) {
    v1::TimelineEvent event;
    if (event.ParseFromString(delivery.event()) &&
        event.kind() == v1::TimelineEvent::KIND_MESSAGE && event.seq() != 0 &&
        event.message().to_account() == delivery.user_id() &&
        event.message().from_account() != delivery.user_id()) {
      users.insert(delivery.user_id());
      candidates.push_back({delivery.user_id(), std::move(event), delivery.ignore_receive_opt()});
    }
  }
  if (candidates.empty()) return absl::OkStatus();
  auto devices = devices_.OfUsers(sdkappid, {users.begin(), users.end()});
  if (!devices.ok()) return devices.status();
  std::vector<v1::PushJob> jobs;
  int64_t now = redis::NowMillis();
  for (auto& [user, event, ignore_receive_opt] : candidates) {
    if (presence::OfflineDevices((*devices)[user], sessions[user]).empty()) continue;
    v1::PushJob job;
    job.set_sdkappid(sdkappid);
    job.set_user_id(user);
    job.set_event(event.SerializeAsString());
    job.set_ignore_receive_opt(ignore_receive_opt);
    job.set_queued_ms(now);
    jobs.push_back(std::move(job));
  }
  if (jobs.empty()) return absl::OkStatus();
  return offline_->Push(std::move(jobs));
}

absl::StatusOr<v1::DeliverResponse> PushLogic::Deliver(const rpc::Caller& caller,
                                                       const v1::DeliverRequest& request) {
  if (!caller.is_service) return errors::Error(kNeedsAdmin, "internal callers only");
  static auto& routed = metrics::Registry::Default().GetCounter(
      "parley_push_routed_total", "events appended to gateway streams");
  // One pipelined read of every recipient's sessions, one pipelined write.
  std::set<std::string> unique_users;
  for (const auto& delivery : request.deliveries()) unique_users.insert(delivery.user_id());
  auto sessions = presence_->SessionsOfUsers(
      caller.sdkappid, std::vector<std::string>(unique_users.begin(), unique_users.end()));
  if (!sessions.ok()) return sessions.status();
  v1::DeliverResponse response;
  // Each gateway gets one stream entry holding its events; it fans each one
  // out to the user's sessions it holds.
  std::map<std::string, v1::GatewayEvents> by_gateway;
  for (const auto& delivery : request.deliveries()) {
    const auto& user_sessions = (*sessions)[delivery.user_id()];
    std::set<std::string> gateways;
    for (const auto& session : user_sessions) gateways.insert(session.gateway_id);
    for (const auto& gateway : gateways) *by_gateway[gateway].add_deliveries() = delivery;
    response.set_routed_sessions(response.routed_sessions() + user_sessions.size());
  }

  std::vector<std::pair<std::string, presence::StreamEntry>> entries;
  size_t events = 0;
  for (const auto& [gateway, gateway_events] : by_gateway) {
    events += gateway_events.deliveries_size();
    entries.push_back(
        {gateway, {"events", caller.sdkappid, "", "", gateway_events.SerializeAsString()}});
  }
  if (auto st = presence_->AppendAll(entries); !st.ok()) return st;
  routed.Increment(events);
  // Then the offline pushes. A failure fails the call: the message service
  // delivers again, gateways drop the events they already have (by seq),
  // and the pushes are queued (at least once).
  if (auto st = QueueOfflinePushes(caller.sdkappid, request, *sessions); !st.ok()) return st;
  return response;
}

absl::StatusOr<v1::DeliverGroupResponse> PushLogic::DeliverGroup(
    const rpc::Caller& caller, const v1::DeliverGroupRequest& request) {
  if (!caller.is_service) return errors::Error(kNeedsAdmin, "internal callers only");
  static auto& routed = metrics::Registry::Default().GetCounter(
      "parley_push_group_routed_total", "group events appended to gateway streams");
  std::vector<std::pair<std::string, presence::StreamEntry>> entries;
  auto flush = [&]() -> absl::Status {
    if (entries.empty()) return absl::OkStatus();
    auto st = presence_->AppendAll(entries);
    routed.Increment(entries.size());
    entries.clear();
    return st;
  };
  uint32_t appended = 0;
  for (const auto& delivery : request.deliveries()) {
    if (delivery.route_users_size() > 0) {
      // Entries before this one go first: the set changes from here on.
      if (auto st = flush(); !st.ok()) return st;
      auto sessions = presence_->SessionsOfUsers(
          caller.sdkappid, {delivery.route_users().begin(), delivery.route_users().end()});
      if (!sessions.ok()) return sessions.status();
      std::set<std::string> gateways;
      for (const auto& [user, user_sessions] : *sessions) {
        for (const auto& session : user_sessions) gateways.insert(session.gateway_id);
      }
      auto st = presence_->AddGroupGateways(caller.sdkappid, delivery.group_id(),
                                            {gateways.begin(), gateways.end()});
      if (!st.ok()) return st;
    }
    auto gateways = presence_->GroupGateways(caller.sdkappid, delivery.group_id());
    if (!gateways.ok()) return gateways.status();
    for (const auto& gateway : *gateways) {
      entries.push_back({gateway, {"group", caller.sdkappid, "", "", delivery.event()}});
    }
    appended += gateways->size();
    if (delivery.dismissed()) {
      if (auto st = flush(); !st.ok()) return st;
      if (auto st = presence_->ForgetGroup(caller.sdkappid, delivery.group_id()); !st.ok()) {
        return st;
      }
    }
  }
  if (auto st = flush(); !st.ok()) return st;
  // Stored group messages go to the members' offline devices: one job per
  // message, which pages through the members (push_queue.h). A failure fails
  // the call, so the message service delivers again (gateways drop events
  // they have).
  std::vector<v1::PushJob> jobs;
  int64_t now = redis::NowMillis();
  for (const auto& delivery : request.deliveries()) {
    v1::GroupEvent event;
    if (!event.ParseFromString(delivery.event()) || !PushesOffline(event)) continue;
    v1::PushJob job;
    job.set_sdkappid(caller.sdkappid);
    job.set_group_event(delivery.event());
    job.set_queued_ms(now);
    jobs.push_back(std::move(job));
  }
  if (!jobs.empty()) {
    if (auto st = offline_->Push(std::move(jobs)); !st.ok()) return st;
  }
  v1::DeliverGroupResponse response;
  response.set_entries(appended);
  return response;
}

absl::StatusOr<v1::QueryOnlineStatusResponse> PushLogic::QueryOnlineStatus(
    const rpc::Caller& caller, const v1::QueryOnlineStatusRequest& request) {
  if (!caller.is_admin) return errors::Error(kNeedsAdmin, "requires an app admin");
  if (request.to_account_size() == 0) return errors::Error(kBadAccount, "To_Account is empty");
  if (static_cast<size_t>(request.to_account_size()) > kMaxStatusQuery) {
    return errors::Error(kTooManyAccounts, "To_Account has more than 500 accounts");
  }
  v1::QueryOnlineStatusResponse response;
  std::vector<std::string> valid;
  for (const auto& user : request.to_account()) {
    if (!user.empty() && user.size() <= 32) valid.push_back(user);
  }
  // Every user's sessions in one go (a few round trips), not one per user.
  absl::StatusOr<std::map<std::string, std::vector<presence::Session>>> all =
      std::map<std::string, std::vector<presence::Session>>();
  absl::StatusOr<std::map<std::string, std::vector<presence::Device>>> devices =
      std::map<std::string, std::vector<presence::Device>>();
  if (!valid.empty()) {
    all = presence_->SessionsOfUsers(caller.sdkappid, valid);
    devices = devices_.OfUsers(caller.sdkappid, valid);
  }
  if (!all.ok()) return all.status();
  if (!devices.ok()) return devices.status();
  for (const auto& user : request.to_account()) {
    if (user.empty() || user.size() > 32) {
      auto* error = response.add_error_list();
      error->set_to_account(user);
      error->set_error_code(kBadAccount);
      continue;
    }
    const auto& sessions = (*all)[user];
    const auto& user_devices = (*devices)[user];
    auto* result = response.add_query_result();
    result->set_to_account(user);
    result->set_status(presence::PushStatus(user_devices, sessions));
    if (request.is_need_detail()) {
      // Connected sessions, then devices that take notifications only.
      std::set<std::string> pushing;
      for (const auto& d : presence::OfflineDevices(user_devices, sessions)) {
        pushing.insert(d.session_id);
      }
      std::set<std::string> connected;
      for (const auto& session : sessions) {
        connected.insert(session.session_id);
        auto* detail = result->add_detail();
        detail->set_platform(session.platform);
        detail->set_status(pushing.count(session.session_id) ? "PushOnline" : "Online");
      }
      for (const auto& d : user_devices) {
        if (connected.count(d.session_id)) continue;
        auto* detail = result->add_detail();
        detail->set_platform(d.platform);
        detail->set_status("PushOnline");
      }
    }
  }
  return response;
}

absl::StatusOr<v1::SetCredentialResponse> PushLogic::SetCredential(
    const rpc::Caller& caller, const v1::PushCredential& request) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (std::string error = CredentialError(request); !error.empty()) {
    return errors::Error(kBadField, error);
  }
  if (credentials_ == nullptr) return errors::Error(kInternalError, "credentials are not stored here");
  v1::PushCredential stored = request;
  if (stored.channel() == "APNs" && stored.environment().empty()) stored.set_environment("production");
  int64_t now = redis::NowMillis() / 1000;
  if (auto st = credentials_->Set(caller.sdkappid, stored, now); !st.ok()) {
    log::Error("push_credential_not_stored", {{"error", std::string(st.message())}});
    return errors::Error(kInternalError, "the credential could not be stored; retry");
  }
  // Which credential, never its secret.
  log::Info("push_credential_set", {{"sdkappid", caller.sdkappid},
                                    {"channel", stored.channel()},
                                    {"business_id", stored.business_id()}});
  return v1::SetCredentialResponse();
}

absl::StatusOr<v1::GetCredentialsResponse> PushLogic::GetCredentials(
    const rpc::Caller& caller, const v1::GetCredentialsRequest&) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (credentials_ == nullptr) return errors::Error(kInternalError, "credentials are not stored here");
  auto all = credentials_->List(caller.sdkappid);
  if (!all.ok()) return errors::Error(kInternalError, "the credentials could not be read; retry");
  v1::GetCredentialsResponse response;
  for (const auto& [credential, update_time] : *all) {
    *response.add_credentials() = PublicInfo(credential, update_time);
  }
  return response;
}

absl::StatusOr<v1::RemoveCredentialResponse> PushLogic::RemoveCredential(
    const rpc::Caller& caller, const v1::RemoveCredentialRequest& request) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (!presence::IsPushChannel(request.channel())) {
    return errors::Error(kBadField, "Channel must be APNs, FCM, Huawei, Xiaomi, OPPO, vivo or Honor");
  }
  if (credentials_ == nullptr) return errors::Error(kInternalError, "credentials are not stored here");
  auto removed = credentials_->Remove(caller.sdkappid, request.channel(), request.business_id());
  if (!removed.ok()) return errors::Error(kInternalError, "the credential could not be removed; retry");
  if (!*removed) return errors::Error(kNoSuchCredential, "no credential for this Channel and BusinessId");
  return v1::RemoveCredentialResponse();
}

namespace {

bool ValidUser(const std::string& user) { return !user.empty() && user.size() <= 32; }

// Whose options a call is about: From_Account for app admins, the caller
// for users (who may name only themselves).
absl::StatusOr<std::string> OptOwner(const rpc::Caller& caller, const std::string& from) {
  if (caller.is_service) return errors::Error(kNeedsAdmin, "not for internal callers");
  if (!caller.is_admin) {
    if (!from.empty() && from != caller.identifier) {
      return errors::Error(kNeedsAdmin, "users set their own options only");
    }
    return caller.identifier;
  }
  if (!ValidUser(from)) return errors::Error(kBadField, "From_Account is missing or invalid");
  return from;
}

absl::Status CheckPeers(const google::protobuf::RepeatedPtrField<std::string>& peers) {
  if (peers.empty() || peers.size() > 30) {
    return errors::Error(kBadField, "UserIDList must have 1 to 30 users");
  }
  for (const auto& peer : peers) {
    if (!ValidUser(peer)) return errors::Error(kBadField, "UserIDList has an invalid UserID");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::SetC2CReceiveOptResponse> PushLogic::SetC2CReceiveOpt(
    const rpc::Caller& caller, const v1::SetC2CReceiveOptRequest& request) {
  auto owner = OptOwner(caller, request.from_account());
  if (!owner.ok()) return owner.status();
  if (auto st = CheckPeers(request.user_id_list()); !st.ok()) return st;
  if (request.opt() < 0 || request.opt() > 2) return errors::Error(kBadField, "Opt must be 0, 1 or 2");
  if (receive_opts_ == nullptr) return errors::Error(kInternalError, "options are not stored here");
  auto st = receive_opts_->Set(caller.sdkappid, *owner,
                               {request.user_id_list().begin(), request.user_id_list().end()},
                               request.opt());
  if (!st.ok()) return errors::Error(kInternalError, "the options could not be stored; retry");
  return v1::SetC2CReceiveOptResponse();
}

absl::StatusOr<v1::GetC2CReceiveOptResponse> PushLogic::GetC2CReceiveOpt(
    const rpc::Caller& caller, const v1::GetC2CReceiveOptRequest& request) {
  auto owner = OptOwner(caller, request.from_account());
  if (!owner.ok()) return owner.status();
  if (auto st = CheckPeers(request.user_id_list()); !st.ok()) return st;
  if (receive_opts_ == nullptr) return errors::Error(kInternalError, "options are not stored here");
  auto opts = receive_opts_->Get(caller.sdkappid, *owner,
                                 {request.user_id_list().begin(), request.user_id_list().end()});
  if (!opts.ok()) return errors::Error(kInternalError, "the options could not be read; retry");
  v1::GetC2CReceiveOptResponse response;
  for (const auto& peer : request.user_id_list()) {
    auto* o = response.add_options();
    o->set_user_id(peer);
    o->set_opt((*opts)[peer]);
  }
  return response;
}

grpc::Status PushGrpcService::SetC2CReceiveOpt(grpc::ServerContext* context,
                                               const v1::SetC2CReceiveOptRequest* request,
                                               v1::SetC2CReceiveOptResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->SetC2CReceiveOpt(c, r);
  });
}

grpc::Status PushGrpcService::GetC2CReceiveOpt(grpc::ServerContext* context,
                                               const v1::GetC2CReceiveOptRequest* request,
                                               v1::GetC2CReceiveOptResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->GetC2CReceiveOpt(c, r);
  });
}

grpc::Status PushGrpcService::SetCredential(grpc::ServerContext* context,
                                            const v1::PushCredential* request,
                                            v1::SetCredentialResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->SetCredential(c, r);
  });
}

grpc::Status PushGrpcService::GetCredentials(grpc::ServerContext* context,
                                             const v1::GetCredentialsRequest* request,
                                             v1::GetCredentialsResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->GetCredentials(c, r);
  });
}

grpc::Status PushGrpcService::RemoveCredential(grpc::ServerContext* context,
                                               const v1::RemoveCredentialRequest* request,
                                               v1::RemoveCredentialResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->RemoveCredential(c, r);
  });
}

grpc::Status PushGrpcService::Deliver(grpc::ServerContext* context,
                                      const v1::DeliverRequest* request,
                                      v1::DeliverResponse* response) {
  return rpc::ServeAsCaller(context, request, response,
                            [&](const auto& c, const auto& r) { return logic_->Deliver(c, r); });
}

grpc::Status PushGrpcService::QueryOnlineStatus(grpc::ServerContext* context,
                                                const v1::QueryOnlineStatusRequest* request,
                                                v1::QueryOnlineStatusResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->QueryOnlineStatus(c, r);
  });
}

grpc::Status PushGrpcService::DeliverGroup(grpc::ServerContext* context,
                                           const v1::DeliverGroupRequest* request,
                                           v1::DeliverGroupResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->DeliverGroup(c, r);
  });
}

}  // namespace parley::push
