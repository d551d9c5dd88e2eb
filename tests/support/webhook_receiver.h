// A real HTTP receiver on loopback for end-to-end tests of third-party
// callbacks: records every request and answers as the test says.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parley/http/server.h"

namespace parley::testing {

class WebhookReceiver {
 public:
  struct Call {
    std::string command;
    std::map<std::string, std::string> query;
    nlohmann::json body;
  };
  // Answers a call; the default answers {"ActionStatus":"OK","ErrorCode":0,...}.
  using Answer = std::function<http::Response(const Call&)>;

  // port 0 picks a free one; a restart keeps the port.
  explicit WebhookReceiver(int port = 0);
  ~WebhookReceiver();

  void Start();
  void Stop();
  // While down, every request is answered 503 and not recorded (a backend
  // behind a load balancer that lost its instances).
  void SetDown(bool down) { down_ = down; }
  int port() const { return port_; }
  std::string url() const;

  void OnCommand(const std::string& command, Answer answer);
  std::vector<Call> Calls(const std::string& command);
  // Waits until at least `n` calls of `command` arrived (or the timeout).
  std::vector<Call> WaitFor(const std::string& command, size_t n, int timeout_ms = 10000);

  static http::Response Ok(const nlohmann::json& extra = nlohmann::json::object());

 private:
  void Handle(http::Request request, http::Responder respond);

  int port_;
  std::atomic<bool> down_{false};
  std::unique_ptr<http::Server> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Call> calls_;
  std::map<std::string, Answer> answers_;
};

// lowercase hex SHA-256 of token + time, as the receiver checks the Sign.
std::string ExpectedSign(const std::string& token, const std::string& request_time);

}  // namespace parley::testing
