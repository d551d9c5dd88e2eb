// parley-gateway: the public edge. Serves Tencent REST (/v4/...), /healthz and
// /metrics over HTTP, and GatewayService (+ health, reflection) over gRPC.
#include <unistd.h>


#include "parley/config/config.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/rpc/client.h"
#include "parley/rpc/server.h"
#include "parley/service/service.h"
#include "parley/v1/gateway.grpc.pb.h"
#include "rest_api.h"
#include "routes.h"

namespace {

class GatewayGrpcService final : public parley::v1::GatewayService::Service {
 public:
  GatewayGrpcService(std::string instance_id, const parley::http::Server* http,
                     const parley::gateway::RestApi* rest)
      : instance_id_(std::move(instance_id)), http_(http), rest_(rest) {}

  grpc::Status GetStats(grpc::ServerContext*, const parley::v1::GetStatsRequest*,
                        parley::v1::GetStatsResponse* response) override {
    response->set_instance_id(instance_id_);
    response->set_open_http_connections(http_->open_connections());
    response->set_rest_requests_total(rest_->requests_total());
    return grpc::Status::OK;
  }

 private:
  std::string instance_id_;
  const parley::http::Server* http_;
  const parley::gateway::RestApi* rest_;
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
  std::string grpc_addr = "127.0.0.1:50050";
  std::string auth_target = "127.0.0.1:50051";
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
  config.Add("http-threads", "PARLEY_HTTP_THREADS", &http_threads, "HTTP I/O threads");
  config.Add("max-body", "PARLEY_HTTP_MAX_BODY_BYTES", &max_body, "largest request body");
  config.Add("auth-cache-seconds", "PARLEY_GATEWAY_AUTH_CACHE_SECONDS", &auth_cache_seconds,
             "how long a verified admin UserSig is trusted without asking auth");
  config.Add("rpc-timeout-ms", "PARLEY_RPC_TIMEOUT_MS", &rpc_timeout_ms,
             "deadline of calls to internal services");
  config.Add("instance-id", "PARLEY_GATEWAY_ID", &instance_id, "this instance's routing id");
  common.RegisterProcess(config);
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  common.InitLogging("gateway");

  parley::gateway::RestOptions rest_options;
  rest_options.auth_cache_ttl = std::chrono::seconds(auth_cache_seconds);
  rest_options.rpc_deadline = std::chrono::milliseconds(rpc_timeout_ms);
  parley::gateway::Backends backends;
  backends.auth = parley::v1::AuthService::NewStub(parley::rpc::MakeChannel(auth_target));
  parley::gateway::RestApi rest(backends.auth, rest_options);
  parley::gateway::RegisterRoutes(rest, backends);

  std::atomic<bool> serving{true};
  parley::http::ServerOptions http_options;
  http_options.address = http_addr;
  http_options.threads = http_threads;
  http_options.max_body_bytes = static_cast<size_t>(max_body);
  http_options.body_too_large = [max_body](const parley::http::Request&) {
    return parley::gateway::RestApi::BodyTooLarge(static_cast<size_t>(max_body));
  };
  parley::http::Server http(http_options, [&](parley::http::Request request,
                                              parley::http::Responder respond) {
    if (request.path.rfind("/v4/", 0) == 0) return rest.Handle(request, std::move(respond));
    if (request.path == "/healthz") {
      return serving ? respond({200, "text/plain", "ok\n", false})
                     : respond({503, "text/plain", "draining\n", false});
    }
    if (request.path == "/metrics") {
      return respond({200, "text/plain; version=0.0.4",
                      parley::metrics::Registry::Default().Render(), false});
    }
    respond({404, "text/plain", "not found\n", false});
  });
  if (auto st = http.Start(); !st.ok()) {
    parley::log::Error("startup_failed", {{"error", std::string(st.message())}});
    return 1;
  }

  GatewayGrpcService gateway_service(instance_id, &http, &rest);
  parley::rpc::ServerRunner runner(
      {"gateway", grpc_addr, "", std::chrono::milliseconds(common.drain_ms)});
  runner.AddService(&gateway_service, "parley.v1.GatewayService");
  runner.OnDrain([&] {
    serving = false;
    http.StopAccepting();
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
