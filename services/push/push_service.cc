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

absl::StatusOr<v1::DeliverResponse> PushLogic::Deliver(const rpc::Caller& caller,
                                                       const v1::DeliverRequest& request) {
  if (!caller.is_admin) return errors::Error(kRequiresAdmin, "internal callers only");
  static auto& routed = metrics::Registry::Default().GetCounter(
      "parley_push_routed_total", "events appended to gateway streams");
  v1::DeliverResponse response;
  std::map<std::string, std::vector<presence::Session>> sessions_by_user;
  for (const auto& delivery : request.deliveries()) {
    auto it = sessions_by_user.find(delivery.user_id());
    if (it == sessions_by_user.end()) {
      auto sessions = presence_->Sessions(caller.sdkappid, delivery.user_id());
      if (!sessions.ok()) return sessions.status();
      it = sessions_by_user.emplace(delivery.user_id(), std::move(*sessions)).first;
    }
    // One stream entry per gateway; the gateway fans out to its sessions.
    std::set<std::string> gateways;
    for (const auto& session : it->second) gateways.insert(session.gateway_id);
    std::string payload = delivery.event().SerializeAsString();
    for (const auto& gateway : gateways) {
      if (auto st = presence_->Append(
              gateway, {"event", caller.sdkappid, delivery.user_id(), "", payload});
          !st.ok()) {
        return st;
      }
      routed.Increment();
    }
    response.set_routed_sessions(response.routed_sessions() + it->second.size());
  }
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
  for (const auto& user : request.to_account()) {
    if (user.empty() || user.size() > 32) {
      auto* error = response.add_error_list();
      error->set_to_account(user);
      error->set_error_code(kBadAccount);
      continue;
    }
    auto sessions = presence_->Sessions(caller.sdkappid, user);
    if (!sessions.ok()) return sessions.status();
    auto* result = response.add_query_result();
    result->set_to_account(user);
    result->set_status(sessions->empty() ? "Offline" : "Online");
    if (request.is_need_detail()) {
      for (const auto& session : *sessions) {
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
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->Deliver(c, r);
  });
}

grpc::Status PushGrpcService::QueryOnlineStatus(grpc::ServerContext* context,
                                                const v1::QueryOnlineStatusRequest* request,
                                                v1::QueryOnlineStatusResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->QueryOnlineStatus(c, r);
  });
}

}  // namespace parley::push
