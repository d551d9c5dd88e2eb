// parley-gateway: the public edge. Serves Tencent REST (/v4/...), /healthz and
// /metrics over HTTP, and GatewayService (+ health, reflection) over gRPC.
#include <unistd.h>

#include <algorithm>


#include "parley/config/config.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/rpc/client.h"
#include "parley/rpc/server.h"
#include "parley/service/service.h"
#include "parley/v1/gateway.grpc.pb.h"
#include "rest_api.h"
#include "client_hub.h"
#include "routes.h"

namespace {

class GatewayGrpcService final : public parley::v1::GatewayService::Service {
 public:
  GatewayGrpcService(std::string instance_id, const parley::http::Server* http,
                     const parley::gateway::RestApi* rest, parley::gateway::ClientHub* hub)
      : instance_id_(std::move(instance_id)), http_(http), rest_(rest), hub_(hub) {}

  grpc::Status GetStats(grpc::ServerContext*, const parley::v1::GetStatsRequest*,
                        parley::v1::GetStatsResponse* response) override {
    response->set_instance_id(instance_id_);
    response->set_open_http_connections(http_->open_connections());
    response->set_open_ws_connections(http_->open_ws_connections());
    response->set_rest_requests_total(rest_->requests_total());
    response->set_client_sessions(hub_->session_count());
    return grpc::Status::OK;
  }

 private:
  std::string instance_id_;
  const parley::http::Server* http_;
  const parley::gateway::RestApi* rest_;
  parley::gateway::ClientHub* hub_;
};

std::string DefaultInstanceId() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

}  // namespace

int main(int argc, char** argv) {
  parley::rpc::BlockStopSignals();
  std::string http_addr = "127.0.0.1:8080";
  std::string grpc_addr = "127.0.0.1:7050";
  std::string auth_target = "127.0.0.1:7051";
  std::string message_target = "127.0.0.1:7052";
  std::string push_target = "127.0.0.1:7056";
  std::string relationship_target = "127.0.0.1:7054";
  std::string group_target = "127.0.0.1:7057";
  int heartbeat_seconds = 30;
  int login_timeout_seconds = 10;
  int room_tick_ms = 5000;
  int room_batch_ms = 100;
  int64_t ws_max_queued_bytes = 8 << 20;
  int max_unauthenticated_per_ip = 500;
  int max_unauthenticated = 10000;
  int http_threads = 2;
  int64_t max_body = 1 << 20;
  int auth_cache_seconds = 10;
  int rpc_timeout_ms = 3000;
  std::string instance_id = DefaultInstanceId();
  parley::service::CommonSettings common;

  parley::config::Config config("parley-gateway", "Public edge: Tencent REST and client sockets.");
  config.Add("http-addr", "PARLEY_HTTP_ADDR", &http_addr, "public HTTP listen address");
  config.Add("grpc-addr", "PARLEY_GATEWAY_GRPC_ADDR", &grpc_addr, "gRPC listen address");
  config.Add("auth-target", "PARLEY_AUTH_TARGET", &auth_target, "auth service address");
  config.Add("message-target", "PARLEY_MESSAGE_TARGET", &message_target,
             "message service address");
  config.Add("push-target", "PARLEY_PUSH_TARGET", &push_target, "push service address");
  config.Add("relationship-target", "PARLEY_RELATIONSHIP_TARGET", &relationship_target,
             "relationship service address");
  config.Add("group-target", "PARLEY_GROUP_TARGET", &group_target, "group service address");
  config.Add("heartbeat-seconds", "PARLEY_WS_HEARTBEAT_SECONDS", &heartbeat_seconds,
             "client heartbeat interval; 3x silence ends a session");
  config.Add("ws-max-queued-bytes", "PARLEY_WS_MAX_QUEUED_BYTES", &ws_max_queued_bytes,
             "unread outgoing bytes a WebSocket may hold before it is dropped (slow consumer)");
  config.Add("room-batch-ms", "PARLEY_ROOM_BATCH_MS", &room_batch_ms,
             "AVChatRoom messages gathered this long into one room_events frame (0: one each)");
  config.Add("room-tick-ms", "PARLEY_ROOM_TICK_MS", &room_tick_ms,
             "how often AVChatRoom presence is refreshed and changed online counts are pushed");
  config.Add("login-timeout-seconds", "PARLEY_WS_LOGIN_TIMEOUT_SECONDS", &login_timeout_seconds,
             "a WebSocket that has not logged in by then is closed (close code 4001)");
  config.Add("max-unauthenticated-per-ip", "PARLEY_HTTP_MAX_UNAUTHENTICATED_PER_IP",
             &max_unauthenticated_per_ip,
             "open connections of one client address not yet authenticated (0: no limit)");
  config.Add("max-unauthenticated", "PARLEY_HTTP_MAX_UNAUTHENTICATED", &max_unauthenticated,
             "open connections not yet authenticated, in all (0: no limit)");
  config.Add("http-threads", "PARLEY_HTTP_THREADS", &http_threads, "HTTP I/O threads");
  config.Add("max-body", "PARLEY_HTTP_MAX_BODY_BYTES", &max_body, "largest request body");
  config.Add("auth-cache-seconds", "PARLEY_GATEWAY_AUTH_CACHE_SECONDS", &auth_cache_seconds,
             "how long a verified admin UserSig is trusted without asking auth");
  config.Add("rpc-timeout-ms", "PARLEY_RPC_TIMEOUT_MS", &rpc_timeout_ms,
             "deadline of calls to internal services");
  config.Add("instance-id", "PARLEY_GATEWAY_ID", &instance_id, "this instance's routing id");
  common.RegisterRedis(config);
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  common.InitLogging("gateway");
  if (!common.InitTls("gateway")) return 1;

  parley::gateway::RestOptions rest_options;
  rest_options.auth_cache_ttl = std::chrono::seconds(auth_cache_seconds);
  rest_options.rpc_deadline = std::chrono::milliseconds(rpc_timeout_ms);
  parley::gateway::Backends backends;
  backends.auth = parley::v1::AuthService::NewStub(parley::rpc::MakeChannel(auth_target, "auth"));
  backends.message =
      parley::v1::MessageService::NewStub(parley::rpc::MakeChannel(message_target, "message"));
  backends.push = parley::v1::PushService::NewStub(parley::rpc::MakeChannel(push_target, "push"));
  backends.relationship =
      parley::v1::RelationshipService::NewStub(parley::rpc::MakeChannel(relationship_target, "relationship"));
  backends.group =
      parley::v1::GroupService::NewStub(parley::rpc::MakeChannel(group_target, "group"));
  backends.group_message = parley::v1::GroupMessageService::NewStub(
      parley::rpc::MakeChannel(message_target, "message"));
  auto redis = parley::service::ConnectRedis(common);
  if (!redis.ok()) return 1;
  auto stream_connection = parley::service::RedisOptions(common);
  stream_connection->size = 1;
  stream_connection->timeout = std::chrono::seconds(5);  // longer than XREAD's block
  parley::gateway::ClientOptions client_options;
  client_options.gateway_id = instance_id;
  client_options.heartbeat_interval_seconds = static_cast<uint32_t>(heartbeat_seconds);
  client_options.rpc_deadline = std::chrono::milliseconds(rpc_timeout_ms);
  client_options.login_deadline = std::chrono::seconds(login_timeout_seconds);
  client_options.room_tick = std::chrono::milliseconds(std::clamp(room_tick_ms, 100, 60000));
  client_options.room_batch = std::chrono::milliseconds(std::clamp(room_batch_ms, 0, 1000));
  parley::gateway::ClientHub hub(client_options, backends.auth, backends.message, redis->get(),
                                 *stream_connection);
  hub.SetGroupMessages(backends.group_message);
  hub.SetGroupService(backends.group);
  hub.SetPush(backends.push);
  parley::gateway::RestApi rest(backends.auth, rest_options);
  // REST frequency limits per app and command, shared through Redis.
  parley::ratelimit::SharedLimiter limiter(redis->get(), "parley:rl:");
  rest.SetLimits(&limiter, redis->get());
  parley::gateway::RegisterRoutes(rest, backends);
  hub.SetApi(&rest);  // sns/* and profile/* over the client protocol

  std::atomic<bool> serving{true};
  const parley::http::Server* http_ptr = nullptr;  // set once the server exists
  parley::http::ServerOptions http_options;
  http_options.address = http_addr;
  http_options.threads = http_threads;
  http_options.max_body_bytes = static_cast<size_t>(max_body);
  http_options.body_too_large = [max_body](const parley::http::Request&) {
    return parley::gateway::RestApi::BodyTooLarge(static_cast<size_t>(max_body));
  };
  http_options.ws_accept = [&hub](std::shared_ptr<parley::http::WsConnection> connection,
                                  const parley::http::Request& request) {
    return hub.Accept(std::move(connection), request);
  };
  http_options.ws_idle_timeout = std::chrono::seconds(3 * heartbeat_seconds);
  http_options.ws_max_queued_bytes = static_cast<size_t>(std::max<int64_t>(64 * 1024, ws_max_queued_bytes));
  // REST is authenticated from its URL before its body is read; sockets that
  // have not authenticated yet (REST or WebSocket before login) are bounded.
  http_options.head_check = [&rest](const parley::http::Request& head,
                                    parley::http::HeadDecision decide) {
    if (head.path.rfind("/v4/", 0) != 0) return decide(std::nullopt);  // /healthz, /metrics
    rest.CheckHead(head, std::move(decide));
  };
  http_options.max_unauthenticated_per_ip = static_cast<size_t>(std::max(0, max_unauthenticated_per_ip));
  http_options.max_unauthenticated = static_cast<size_t>(std::max(0, max_unauthenticated));
  parley::http::Server http(http_options, [&](parley::http::Request request,
                                              parley::http::Responder respond) {
    if (request.path.rfind("/v4/", 0) == 0) return rest.Handle(request, std::move(respond));
    if (request.path == "/healthz") {
      return serving ? respond({200, "text/plain", "ok\n", false})
                     : respond({503, "text/plain", "draining\n", false});
    }
    if (request.path == "/metrics") {
      auto& registry = parley::metrics::Registry::Default();
      const char* help = "sockets open on the public port, by kind";
      registry.GetGauge("parley_gateway_open_connections", help, {{"kind", "http"}})
          .Set(static_cast<int64_t>(http_ptr->open_http_connections()));
      registry.GetGauge("parley_gateway_open_connections", help, {{"kind", "ws"}})
          .Set(static_cast<int64_t>(http_ptr->open_ws_connections()));
      registry
          .GetGauge("parley_gateway_unauthenticated_connections",
                    "open sockets that have not authenticated yet (REST sig, WebSocket login)")
          .Set(static_cast<int64_t>(http_ptr->unauthenticated_connections()));
      registry
          .GetGauge("parley_gateway_refused_connections",
                    "sockets closed at accept: over the unauthenticated-connection limits")
          .Set(static_cast<int64_t>(http_ptr->refused_connections()));
      return respond({200, "text/plain; version=0.0.4", registry.Render(), false});
    }
    respond({404, "text/plain", "not found\n", false});
  });
  http_ptr = &http;
  hub.Start();
  if (auto st = http.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    return 1;
  }

  GatewayGrpcService gateway_service(instance_id, &http, &rest, &hub);
  parley::rpc::ServerRunner runner(
      {"gateway", grpc_addr, "", std::chrono::milliseconds(common.drain_ms)});
  runner.AddService(&gateway_service, "parley.v1.GatewayService");
  runner.OnDrain([&] {
    serving = false;
    http.StopAccepting();
    hub.Stop();  // clients are told to reconnect elsewhere
  });
  if (auto st = runner.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    return 1;
  }
  parley::log::Info("gateway_started", {{"http_port", http.port()},
                                        {"grpc_port", runner.grpc_port()},
                                        {"instance_id", instance_id}});
  runner.Wait();
  http.Stop();
  return 0;
}
