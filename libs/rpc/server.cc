#include "parley/rpc/server.h"

#include <signal.h>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/rpc/tls.h"

namespace parley::rpc {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Counts every RPC by method and status code and times it.
class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit MetricsInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method()), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      auto& registry = metrics::Registry::Default();
      registry
          .GetCounter("parley_grpc_server_handled_total", "RPCs completed, by method and code",
                      {{"method", method_}, {"code", std::to_string(status.error_code())}})
          .Increment();
      std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
      registry
          .GetHistogram("parley_grpc_server_handling_seconds", "RPC latency", {{"method", method_}})
          .Observe(elapsed.count());
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  std::chrono::steady_clock::time_point start_;
};

class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info);
  }
};

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockStopSignals() {
  // Debian's Abseil is built with Mutex deadlock detection on, which records
  // a lock graph on every acquisition; it cost ~1-2% of CPU under load.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

ServerRunner::ServerRunner(ServerOptions options) : options_(std::move(options)) {}

ServerRunner::~ServerRunner() {
  if (metrics_) metrics_->Stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
}

void ServerRunner::AddService(grpc::Service* service, const std::string& full_name) {
  services_.emplace_back(service, full_name);
}

absl::Status ServerRunner::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Mutual TLS, and the call graph of rpc/access.h enforced per method.
  builder.AddListeningPort(options_.grpc_address, ServerCredentials(options_.name), &grpc_port_);
  for (auto& [service, name] : services_) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<MetricsInterceptorFactory>());
  builder.experimental().SetInterceptorCreators(std::move(factories));
  // The sync server starts a thread when every poller is busy and ends it
  // when more than MAX_POLLERS are idle. Handlers that wait (a send waiting
  // for its batch commit) keep many busy at once, so with the default of 2
  // idle pollers threads were created and destroyed thousands of times a
  // second under load. Keeping a pool alive removes that churn.
  // Clients ping idle channels every 30 s (rpc::MakeChannel); without this
  // the server answers such pings with GOAWAY "too_many_pings".
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  // Clients reconnect every few minutes (calls in flight finish first), which
  // makes them resolve the service name again and find replicas added since.
  // A port another process holds is an error at start-up: with gRPC's
  // default SO_REUSEPORT two servers would share it and split the calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, 5 * 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, 30 * 1000);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS,
                              options_.min_pollers);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              options_.max_pollers);
  server_ = builder.BuildAndStart();
  if (!server_ || grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.grpc_address,
                                               " (already in use, or not a local address)"));
  }
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus(true);
  for (auto& [service, name] : services_) health->SetServingStatus(name, true);
  serving_ = true;

  if (!options_.metrics_address.empty()) {
    http::ServerOptions http_options;
    http_options.address = options_.metrics_address;
    http_options.threads = 1;
    metrics_ = std::make_unique<http::Server>(
        http_options, [this](http::Request request, http::Responder respond) {
          if (request.path == "/metrics") {
            return respond({200, "text/plain; version=0.0.4",
                            metrics::Registry::Default().Render(), false});
          }
          if (request.path == "/healthz") {
            return serving_ ? respond({200, "text/plain", "ok\n", false})
                            : respond({503, "text/plain", "draining\n", false});
          }
          respond({404, "text/plain", "not found\n", false});
        });
    if (auto st = metrics_->Start(); !st.ok()) return st;
  }
  log::Info("grpc_server_started", {{"server", options_.name},
                                    {"grpc_port", grpc_port_},
                                    {"metrics_port", metrics_port()}});
  return absl::OkStatus();
}

void ServerRunner::Wait() {
  sigset_t set = StopSignals();
  timespec tick{0, 200 * 1000 * 1000};
  while (!stop_.HasBeenNotified()) {
    siginfo_t info;
    int signo = sigtimedwait(&set, &info, &tick);
    if (signo == SIGTERM || signo == SIGINT) {
      log::Info("stop_signal", {{"server", options_.name}, {"signal", signo}});
      break;
    }
  }
  serving_ = false;
  server_->GetHealthCheckService()->SetServingStatus(false);
  if (on_drain_) on_drain_();
  log::Info("draining", {{"server", options_.name}, {"drain_ms", options_.drain.count()}});
  std::this_thread::sleep_for(options_.drain);
  server_->Shutdown(std::chrono::system_clock::now() + options_.shutdown_grace);
  server_->Wait();
  if (metrics_) metrics_->Stop();
  log::Info("stopped", {{"server", options_.name}});
}

}  // namespace parley::rpc
