#include "support/webhook_receiver.h"

#include <openssl/sha.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "absl/strings/escaping.h"
#include "support/process.h"

namespace parley::testing {

WebhookReceiver::WebhookReceiver(int port) : port_(port == 0 ? FreePort() : port) { Start(); }

WebhookReceiver::~WebhookReceiver() { Stop(); }

void WebhookReceiver::Start() {
  http::ServerOptions options;
  options.address = "127.0.0.1:" + std::to_string(port_);
  options.threads = 4;
  server_ = std::make_unique<http::Server>(
      options, [this](http::Request request, http::Responder respond) {
        Handle(std::move(request), std::move(respond));
      });
  auto st = server_->Start();
  INFO(st.message());
  REQUIRE(st.ok());
}

void WebhookReceiver::Stop() {
  if (server_) server_->Stop();
  server_.reset();
}

std::string WebhookReceiver::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/im/callback";
}

void WebhookReceiver::OnCommand(const std::string& command, Answer answer) {
  std::lock_guard lock(mu_);
  answers_[command] = std::move(answer);
}

http::Response WebhookReceiver::Ok(const nlohmann::json& extra) {
  nlohmann::json body = {{"ActionStatus", "OK"}, {"ErrorCode", 0}, {"ErrorInfo", ""}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return {200, "application/json", body.dump(), false};
}

void WebhookReceiver::Handle(http::Request request, http::Responder respond) {
  if (down_) return respond({503, "text/plain", "down", false});
  Call call;
  call.query = http::ParseQuery(request.query);
  call.command = call.query["CallbackCommand"];
  call.body = nlohmann::json::parse(request.body, nullptr, false);
  Answer answer;
  {
    std::lock_guard lock(mu_);
    calls_.push_back(call);
    auto it = answers_.find(call.command);
    if (it != answers_.end()) answer = it->second;
  }
  cv_.notify_all();
  respond(answer ? answer(call) : Ok());
}

std::vector<WebhookReceiver::Call> WebhookReceiver::Calls(const std::string& command) {
  std::lock_guard lock(mu_);
  std::vector<Call> out;
  for (const auto& c : calls_) {
    if (c.command == command) out.push_back(c);
  }
  return out;
}

std::vector<WebhookReceiver::Call> WebhookReceiver::WaitFor(const std::string& command, size_t n,
                                                            int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock lock(mu_);
  for (;;) {
    std::vector<Call> out;
    for (const auto& c : calls_) {
      if (c.command == command) out.push_back(c);
    }
    if (out.size() >= n || cv_.wait_until(lock, deadline) == std::cv_status::timeout) return out;
  }
}

std::string ExpectedSign(const std::string& token, const std::string& request_time) {
  std::string input = token + request_time;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace parley::testing
