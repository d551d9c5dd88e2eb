// Runs a service's gRPC server the same way in every Parley binary:
//  - gRPC health service (overall and per registered service) and server
//    reflection, so grpcurl works against every service;
//  - Prometheus metrics of every RPC (count by method and code, latency) on
//    an HTTP endpoint with /metrics and /healthz;
//  - SIGTERM/SIGINT: health NOT_SERVING, wait `drain`, then
//    Shutdown(now + shutdown_grace) so in-flight calls finish.
//
// Call BlockStopSignals() first thing in main(), before any thread starts, so
// the signals reach Wait() and not an arbitrary thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "parley/http/server.h"

namespace parley::rpc {

void BlockStopSignals();

struct ServerOptions {
  std::string name;              // e.g. "auth"; used in logs and metrics
  std::string grpc_address;      // host:port; port 0 picks one
  std::string metrics_address;   // host:port of /metrics and /healthz; empty: none
  std::chrono::milliseconds drain{2000};
  std::chrono::milliseconds shutdown_grace{10000};
  // Sync-server threads kept polling (see Start()).
  int min_pollers = 4;
  int max_pollers = 64;
};

class ServerRunner {
 public:
  explicit ServerRunner(ServerOptions options);
  ~ServerRunner();

  // Registers a service (not owned; must outlive the runner). Before Start().
  void AddService(grpc::Service* service, const std::string& full_name);
  // Runs before the drain wait, e.g. to stop accepting public connections.
  void OnDrain(std::function<void()> hook) { on_drain_ = std::move(hook); }

  absl::Status Start();
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }

  // Blocks until a stop signal or RequestStop(), then drains and shuts down.
  void Wait();
  void RequestStop() { stop_.Notify(); }

 private:
  ServerOptions options_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<http::Server> metrics_;
  std::function<void()> on_drain_;
  absl::Notification stop_;
  std::atomic<bool> serving_{false};
  int grpc_port_ = 0;
};

}  // namespace parley::rpc
