// parley-push: routes events to the gateways holding the recipients'
// sessions, and pushes offline notifications through the vendors.
#include <curl/curl.h>

#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/rpc/client.h"
#include "parley/rpc/server.h"
#include "parley/service/service.h"
#include "parley/v1/auth.grpc.pb.h"
#include "parley/v1/group.grpc.pb.h"
#include "parley/v1/message.grpc.pb.h"
#include "push_queue.h"
#include "push_service.h"
#include "vendor_http.h"

namespace parley::pg {
const std::vector<Migration>& push_migrations();
}

namespace {

// Badges: the recipients' unread counts, from the message service.
class MessageBadges : public parley::push::BadgeSource {
 public:
  explicit MessageBadges(std::shared_ptr<parley::v1::MessageService::StubInterface> messages)
      : messages_(std::move(messages)) {}
  absl::StatusOr<std::vector<uint32_t>> Badges(uint64_t sdkappid,
                                               const std::vector<std::string>& users) override {
    parley::rpc::Caller self = parley::rpc::ServiceCaller(sdkappid, "parley-push");
    auto context = parley::rpc::NewContext(&self, std::chrono::milliseconds(3000));
    parley::v1::GetBadgesRequest request;
    for (const auto& user : users) request.add_user_ids(user);
    parley::v1::GetBadgesResponse response;
    auto status =
        parley::errors::FromGrpc(messages_->GetBadges(context.get(), request, &response));
    if (!status.ok()) return status;
    return std::vector<uint32_t>(response.badges().begin(), response.badges().end());
  }

 private:
  std::shared_ptr<parley::v1::MessageService::StubInterface> messages_;
};

// The app's accounts, a page at a time, from the auth service.
class AuthAccounts : public parley::push::AccountSource {
 public:
  explicit AuthAccounts(std::shared_ptr<parley::v1::AuthService::StubInterface> auth)
      : auth_(std::move(auth)) {}
  absl::StatusOr<parley::v1::ListAccountsResponse> Page(uint64_t sdkappid, const std::string& after,
                                                        uint32_t limit) override {
    parley::rpc::Caller self = parley::rpc::ServiceCaller(sdkappid, "parley-push");
    auto context = parley::rpc::NewContext(&self, std::chrono::milliseconds(5000));
    parley::v1::ListAccountsRequest request;
    request.set_after(after);
    request.set_limit(limit);
    parley::v1::ListAccountsResponse response;
    auto status = parley::errors::FromGrpc(auth_->ListAccounts(context.get(), request, &response));
    if (!status.ok()) return status;
    return response;
  }

 private:
  std::shared_ptr<parley::v1::AuthService::StubInterface> auth_;
};

// Group members, a page at a time, from the group service.
class GroupMembers : public parley::push::MemberSource {
 public:
  explicit GroupMembers(std::shared_ptr<parley::v1::GroupService::StubInterface> groups)
      : groups_(std::move(groups)) {}
  absl::StatusOr<parley::v1::ListPushTargetsResponse> Page(uint64_t sdkappid,
                                                           const std::string& group_id,
                                                           const std::string& after,
                                                           uint32_t limit) override {
    parley::rpc::Caller self = parley::rpc::ServiceCaller(sdkappid, "parley-push");
    auto context = parley::rpc::NewContext(&self, std::chrono::milliseconds(5000));
    parley::v1::ListPushTargetsRequest request;
    request.set_group_id(group_id);
    request.set_after(after);
    request.set_limit(limit);
    parley::v1::ListPushTargetsResponse response;
    auto status =
        parley::errors::FromGrpc(groups_->ListPushTargets(context.get(), request, &response));
    if (!status.ok()) {
      // The group or topic is gone: nobody to notify (not retried).
      int32_t code = parley::errors::TencentCode(status, 0);
      if (code == 10010 || code == 10015 || code == 110013) return absl::NotFoundError("no group");
      return status;
    }
    return response;
  }

 private:
  std::shared_ptr<parley::v1::GroupService::StubInterface> groups_;
};

}  // namespace

int main(int argc, char** argv) {
  parley::rpc::BlockStopSignals();
  parley::push::VendorHttp::GlobalInit();
  parley::service::CommonSettings common;
  std::string grpc_addr = "127.0.0.1:7056";
  std::string metrics_addr = "127.0.0.1:7156";
  std::string callback_target = "127.0.0.1:7055";
  std::string message_target = "127.0.0.1:7052";
  std::string group_target = "127.0.0.1:7057";
  std::string auth_target = "127.0.0.1:7051";
  int64_t all_member_per_day = 100;
  std::string vendor_urls;
  std::string vendor_ca_file;
  int workers = 8;
  std::string queue_prefix = parley::push::kDefaultQueuePrefix;
  int64_t retry_base_ms = 1000;
  int64_t retry_max_ms = 300000;
  int64_t max_attempts = 18;
  int64_t group_page_size = 500;

  parley::config::Config config("parley-push",
                                "Online delivery across gateway instances; offline push.");
  common.Register(config);
  config.Add("grpc-addr", "PARLEY_PUSH_GRPC_ADDR", &grpc_addr, "gRPC listen address");
  config.Add("metrics-addr", "PARLEY_PUSH_METRICS_ADDR", &metrics_addr,
             "HTTP address of /metrics and /healthz (empty: off)");
  config.Add("callback-target", "PARLEY_CALLBACK_TARGET", &callback_target,
             "callback service address (Push.OfflinePush)");
  config.Add("message-target", "PARLEY_MESSAGE_TARGET", &message_target,
             "message service address (unread counts for badges)");
  config.Add("group-target", "PARLEY_GROUP_TARGET", &group_target,
             "group service address (members of groups whose messages are pushed)");
  config.Add("vendor-urls", "PARLEY_PUSH_VENDOR_URLS", &vendor_urls,
             "vendor endpoints to use instead of the public ones, name=url,... (apns, "
             "apns_sandbox, fcm, huawei_auth, huawei, honor_auth, honor, xiaomi, oppo, vivo)");
  config.Add("vendor-ca-file", "PARLEY_PUSH_VENDOR_CA_FILE", &vendor_ca_file,
             "CA bundle to trust for vendor endpoints (empty: the system's)");
  config.Add("workers", "PARLEY_PUSH_WORKERS", &workers, "offline push worker threads");
  config.Add("queue-prefix", "PARLEY_PUSH_QUEUE_PREFIX", &queue_prefix,
             "Redis key prefix of the offline push queue (<prefix>:queue, :retry, :dead)");
  config.Add("retry-base-ms", "PARLEY_PUSH_RETRY_BASE_MS", &retry_base_ms,
             "first delay before a failed vendor send is tried again (doubles each time)");
  config.Add("retry-max-ms", "PARLEY_PUSH_RETRY_MAX_MS", &retry_max_ms,
             "longest delay between tries of a failed vendor send");
  config.Add("max-attempts", "PARLEY_PUSH_MAX_ATTEMPTS", &max_attempts,
             "tries of a vendor send before it goes to the dead-letter stream");
  config.Add("auth-target", "PARLEY_AUTH_TARGET", &auth_target,
             "auth service address (the app's accounts, for all-member pushes to everyone)");
  config.Add("all-member-per-day", "PARLEY_PUSH_ALL_MEMBER_PER_DAY", &all_member_per_day,
             "all-member pushes an app may start a day (Tencent's default: 100)");
  config.Add("group-page-size", "PARLEY_PUSH_GROUP_PAGE_SIZE", &group_page_size,
             "members read per page when a group message is pushed (1 to 1000)");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  common.InitLogging("push");
  if (!common.InitTls("push")) return 1;
  auto endpoints = parley::push::VendorEndpoints::Defaults();
  if (auto st = endpoints.Override(vendor_urls); !st.ok()) {
    parley::log::Error("bad_vendor_urls", {{"error", std::string(st.message())}});
    return 1;
  }

  auto pg = parley::service::ConnectPostgres(common, "push", parley::pg::push_migrations());
  if (!pg.ok()) return 1;
  auto redis = parley::service::ConnectRedis(common);
  if (!redis.ok()) return 1;
  auto redis_options = parley::service::RedisOptions(common);
  if (!redis_options.ok()) return 1;

  parley::presence::Presence presence(redis->get());
  parley::push::CredentialStore credentials(pg->get());
  parley::push::ReceiveOptStore receive_opts(pg->get());
  parley::push::QueueingOfflinePusher offline(redis->get(),
                                              parley::push::QueueStream(queue_prefix));
  parley::push::PushLogic logic(&presence, &offline, &credentials, &receive_opts);
  parley::push::AllMemberStore all_member(pg->get());
  logic.SetAllMember(&all_member, std::max<int64_t>(0, all_member_per_day));
  AuthAccounts accounts(
      parley::v1::AuthService::NewStub(parley::rpc::MakeChannel(auth_target, "auth")));

  parley::callbacks::CallbackClient callbacks(
      parley::v1::WebhookService::NewStub(parley::rpc::MakeChannel(callback_target, "callback")),
      redis->get(), *redis_options);
  MessageBadges badges(
      parley::v1::MessageService::NewStub(parley::rpc::MakeChannel(message_target, "message")));
  GroupMembers members(
      parley::v1::GroupService::NewStub(parley::rpc::MakeChannel(group_target, "group")));
  parley::push::VendorHttp http(vendor_ca_file);
  std::map<std::string, std::unique_ptr<parley::push::Vendor>> vendors;
  for (const auto& channel : parley::presence::PushChannels()) {
    vendors[channel] = parley::push::MakeVendor(channel, &http, endpoints);
  }
  parley::push::PushQueueOptions queue_options;
  queue_options.workers = std::max(0, std::min(workers, 256));
  queue_options.consumer = "push-" + std::to_string(::getpid());
  queue_options.key_prefix = queue_prefix;
  queue_options.retry_base = std::chrono::milliseconds(std::max<int64_t>(10, retry_base_ms));
  queue_options.retry_max =
      std::chrono::milliseconds(std::max<int64_t>(queue_options.retry_base.count(), retry_max_ms));
  queue_options.max_attempts = static_cast<uint32_t>(std::clamp<int64_t>(max_attempts, 1, 100));
  queue_options.group_page_size = static_cast<uint32_t>(std::clamp<int64_t>(group_page_size, 1, 1000));
  parley::push::PushQueue queue(redis->get(), *redis_options, &credentials, &receive_opts, &http,
                                std::move(vendors),
                                &badges, &members, &callbacks, queue_options);
  queue.SetAllMember(&all_member, &accounts);
  // With no workers this replica routes and queues only; others send.
  if (queue_options.workers > 0) queue.Start();

  parley::push::PushGrpcService service(&logic);
  parley::rpc::ServerRunner runner(
      {"push", grpc_addr, metrics_addr, std::chrono::milliseconds(common.drain_ms)});
  runner.AddService(&service, "parley.v1.PushService");
  if (auto st = runner.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    return 1;
  }
  runner.Wait();
  return 0;
}
