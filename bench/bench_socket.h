// One client-protocol connection for the load generators: connects, logs in
// (retrying a refused login a few times, as a client SDK would), heartbeats
// well within the gateway's idle timeout, writes frames in order, and hands
// every other frame, as text, to OnFrame. Frames are written and read as
// text, not through a JSON tree: the load generators share the box with the
// system they measure.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <deque>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include "parley/usersig/usersig.h"

namespace parley::bench {

struct Target {
  std::string host = "127.0.0.1";
  int port = 8080;
  uint64_t sdkappid = 0;
  std::string key;  // the app's secret key, for UserSigs
};

class BenchSocket : public std::enable_shared_from_this<BenchSocket> {
 public:
  BenchSocket(boost::asio::io_context& ioc, const Target& target, std::string user)
      : ws_(boost::asio::make_strand(ioc)), target_(target), user_(std::move(user)) {}
  virtual ~BenchSocket() = default;

  // `on_ready` runs once the login is acknowledged.
  void Start(std::function<void()> on_ready) {
    on_ready_ = std::move(on_ready);
    auto endpoint = boost::asio::ip::tcp::endpoint(
        boost::asio::ip::make_address(target_.host), static_cast<uint16_t>(target_.port));
    boost::beast::get_lowest_layer(ws_).async_connect(
        endpoint, [self = shared_from_this()](boost::beast::error_code ec) {
          if (ec) return self->Fail("connect", ec);
          // As the gateway does: a small frame goes out at once, not after
          // the ACK of the previous one (Nagle), which would add latency.
          boost::beast::get_lowest_layer(self->ws_).socket().set_option(
              boost::asio::ip::tcp::no_delay(true), ec);
          self->ws_.async_handshake(self->target_.host, "/ws", [self](boost::beast::error_code ec) {
            if (ec) return self->Fail("handshake", ec);
            self->Login();
            self->Read();
          });
        });
  }

  // Thread-safe: the frame is written on the connection's strand, in order.
  void Send(std::string text) {
    boost::asio::post(ws_.get_executor(),
                      [self = shared_from_this(), text = std::move(text)]() mutable {
                        self->Write(std::move(text));
                      });
  }

  const std::string& user() const { return user_; }
  // The connection's strand, for timers of derived sockets.
  auto get_executor() { return ws_.get_executor(); }
  bool ready() const { return ready_; }
  bool failed() const { return failed_; }

 protected:
  // Every frame but the login's answers.
  virtual void OnFrame(std::string_view text) = 0;
  // A refused login (it is retried up to three times).
  virtual void OnLoginError(std::string_view text) { std::cerr << user_ << ": " << text << "\n"; }

 private:
  void Login() {
    nlohmann::json login = {
        {"id", "login"},
        {"login",
         {{"sdkappid", std::to_string(target_.sdkappid)},
          {"userId", user_},
          {"usersig", parley::usersig::Generate(target_.key, target_.sdkappid, user_,
                                                std::time(nullptr))},
          {"platform", "Web"}}}};
    Write(login.dump());
  }

  void Write(std::string text) {
    queue_.push_back(std::move(text));
    if (queue_.size() == 1) WriteNext();
  }

  void WriteNext() {
    ws_.text(true);
    ws_.async_write(boost::asio::buffer(queue_.front()),
                    [self = shared_from_this()](boost::beast::error_code ec, size_t) {
                      if (ec) return self->Fail("write", ec);
                      self->queue_.pop_front();
                      if (!self->queue_.empty()) self->WriteNext();
                    });
  }

  void Read() {
    ws_.async_read(buffer_, [self = shared_from_this()](boost::beast::error_code ec, size_t) {
      if (ec) return self->Fail("read", ec);
      auto data = self->buffer_.data();
      self->Handle(std::string_view(static_cast<const char*>(data.data()), data.size()));
      self->buffer_.consume(self->buffer_.size());
      self->Read();
    });
  }

  void Handle(std::string_view text) {
    if (!ready_ && text.find(R"("loginAck")") != std::string_view::npos) {
      ready_ = true;
      ScheduleHeartbeat();
      if (on_ready_) on_ready_();
      return;
    }
    if (!ready_ && text.find(R"("id":"login")") != std::string_view::npos &&
        text.find(R"("error")") != std::string_view::npos && login_attempts_ < 3) {
      // The server was busy: log in again shortly.
      OnLoginError(text);
      ++login_attempts_;
      timer_.expires_after(std::chrono::milliseconds(500 * login_attempts_));
      timer_.async_wait([self = shared_from_this()](boost::beast::error_code ec) {
        if (!ec && !self->failed_) self->Login();
      });
      return;
    }
    OnFrame(text);
  }

  // Within the gateway's idle timeout (3 x 30 s), however long the run.
  void ScheduleHeartbeat() {
    timer_.expires_after(std::chrono::seconds(20));
    timer_.async_wait([self = shared_from_this()](boost::beast::error_code ec) {
      if (ec || self->failed_) return;
      self->Write(R"({"id":"hb","heartbeat":{}})");
      self->ScheduleHeartbeat();
    });
  }

  void Fail(const char* what, boost::beast::error_code ec) {
    if (!failed_) std::cerr << user_ << ": " << what << ": " << ec.message() << "\n";
    failed_ = true;
  }

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  const Target& target_;
  std::string user_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  std::function<void()> on_ready_;
  boost::asio::steady_timer timer_{ws_.get_executor()};
  int login_attempts_ = 0;
  bool ready_ = false;
  bool failed_ = false;
};

}  // namespace parley::bench
