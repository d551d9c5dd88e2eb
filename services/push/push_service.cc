#include "push_service.h"

#include <map>
#include <set>

#include "parley/errors/errors.h"
#include "parley/metrics/metrics.h"
#include "parley/rpc/serve.h"

namespace parley::push {
namespace {
constexpr int32_t kRequiresAdmin = 90009;
constexpr int32_t kTooManyAccounts = 90011;
constexpr int32_t kBadAccount = 90003;
constexpr size_t kMaxStatusQuery = 500;
}  // namespace

void CountingOfflinePusher::Push(uint64_t, const std::string&, const v1::TimelineEvent&) {
  static auto& offline = metrics::Registry::Default().GetCounter(
      "parley_push_offline_total", "messages for users with no online session");
  offline.Increment();
}

absl::StatusOr<v1::DeliverResponse> PushLogic::Deliver(const rpc::Caller& caller,
                                                       const v1::DeliverRequest& request) {
  if (!caller.is_service) return errors::Error(kRequiresAdmin, "internal callers only");
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
    if (user_sessions.empty()) {
      // Only stored messages go to offline push: recalls, edits and receipts don't notify.
      v1::TimelineEvent event;
      if (event.ParseFromString(delivery.event()) &&
          event.kind() == v1::TimelineEvent::KIND_MESSAGE && event.seq() != 0 &&
          event.message().to_account() == delivery.user_id()) {
        offline_->Push(caller.sdkappid, delivery.user_id(), event);
      }
    }
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
  return response;
}

absl::StatusOr<v1::DeliverGroupResponse> PushLogic::DeliverGroup(
    const rpc::Caller& caller, const v1::DeliverGroupRequest& request) {
  if (!caller.is_service) return errors::Error(kRequiresAdmin, "internal callers only");
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
  v1::DeliverGroupResponse response;
  response.set_entries(appended);
  return response;
}

absl::StatusOr<v1::QueryOnlineStatusResponse> PushLogic::QueryOnlineStatus(
    const rpc::Caller& caller, const v1::QueryOnlineStatusRequest& request) {
  if (!caller.is_admin) return errors::Error(kRequiresAdmin, "requires an app admin");
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
  if (!valid.empty()) all = presence_->SessionsOfUsers(caller.sdkappid, valid);
  if (!all.ok()) return all.status();
  for (const auto& user : request.to_account()) {
    if (user.empty() || user.size() > 32) {
      auto* error = response.add_error_list();
      error->set_to_account(user);
      error->set_error_code(kBadAccount);
      continue;
    }
    const auto& sessions = (*all)[user];
    auto* result = response.add_query_result();
    result->set_to_account(user);
    result->set_status(sessions.empty() ? "Offline" : "Online");
    if (request.is_need_detail()) {
      for (const auto& session : sessions) {
        auto* detail = result->add_detail();
        detail->set_platform(session.platform);
        detail->set_status("Online");
      }
    }
  }
  return response;
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
