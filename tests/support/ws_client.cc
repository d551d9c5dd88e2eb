#include "support/ws_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>

namespace parley::testing {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

struct WsClient::Impl {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buffer;
  bool reading = false;
  bool done = false;
  beast::error_code ec;
};

WsClient::WsClient(int port, const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->ws.next_layer().connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
  impl_->ws.handshake("127.0.0.1", path);
}

WsClient::~WsClient() {
  beast::error_code ec;
  impl_->ws.next_layer().close(ec);
}

void WsClient::SendText(const std::string& text) {
  beast::error_code ec;
  impl_->ws.text(true);
  impl_->ws.write(net::buffer(text), ec);
  if (ec) closed_ = true;
}

void WsClient::SendBinary(const std::string& bytes) {
  beast::error_code ec;
  impl_->ws.binary(true);
  impl_->ws.write(net::buffer(bytes), ec);
  if (ec) closed_ = true;
}

std::optional<std::string> WsClient::ReadRaw(int timeout_ms) {
  if (closed_) return std::nullopt;
  if (!impl_->reading) {
    impl_->reading = true;
    impl_->done = false;
    impl_->ws.async_read(impl_->buffer, [this](beast::error_code ec, size_t) {
      impl_->done = true;
      impl_->ec = ec;
    });
  }
  impl_->ioc.restart();
  impl_->ioc.run_for(std::chrono::milliseconds(timeout_ms));
  if (!impl_->done) return std::nullopt;
  impl_->reading = false;
  if (impl_->ec) {
    closed_ = true;
    close_code_ = impl_->ws.reason().code;
    return std::nullopt;
  }
  std::string data = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  return data;
}

std::optional<nlohmann::json> WsClient::Next(int timeout_ms) {
  if (!pending_.empty()) {
    auto frame = pending_.front();
    pending_.pop_front();
    return frame;
  }
  auto raw = ReadRaw(timeout_ms);
  if (!raw) return std::nullopt;
  return nlohmann::json::parse(*raw);
}

nlohmann::json WsClient::Call(const std::string& id, nlohmann::json frame, int timeout_ms) {
  auto answer = TryCall(id, std::move(frame), timeout_ms);
  if (!answer) FAIL("no answer to frame " + id + (closed_ ? " (connection closed)" : ""));
  return *answer;
}

std::optional<nlohmann::json> WsClient::TryCall(const std::string& id, nlohmann::json frame,
                                                int timeout_ms) {
  frame["id"] = id;
  Send(frame);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto raw = ReadRaw(100);
    if (!raw) {
      if (closed_) break;
      continue;
    }
    auto answer = nlohmann::json::parse(*raw);
    if (answer.value("id", "") == id) return answer;
    pending_.push_back(std::move(answer));
  }
  return std::nullopt;
}

std::optional<nlohmann::json> WsClient::NextEvent(int timeout_ms) {
  return NextPush("event", timeout_ms);
}

std::optional<nlohmann::json> WsClient::NextGroupEvent(int timeout_ms) {
  return NextPush("groupEvent", timeout_ms);
}

std::optional<nlohmann::json> WsClient::NextPush(const std::string& key, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->contains(key)) {
      auto event = (*it)[key];
      pending_.erase(it);
      return event;
    }
  }
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto raw = ReadRaw(static_cast<int>(std::max<int64_t>(1, left.count())));
    if (!raw) return std::nullopt;
    auto frame = nlohmann::json::parse(*raw);
    if (frame.contains(key)) return frame[key];
    pending_.push_back(std::move(frame));
  }
  return std::nullopt;
}

std::optional<std::string> WsClient::NextKick(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto frame = Next(100);
    if (!frame) {
      if (closed_) return std::nullopt;
      continue;
    }
    if (frame->contains("kick")) return (*frame)["kick"].value("reason", "");
  }
  return std::nullopt;
}

nlohmann::json WsClient::Login(uint64_t sdkappid, const std::string& user,
                               const std::string& usersig, const std::string& platform,
                               std::optional<uint64_t> last_seq) {
  nlohmann::json login = {{"sdkappid", std::to_string(sdkappid)},
                          {"userId", user},
                          {"usersig", usersig},
                          {"platform", platform},
                          {"deviceId", "device-" + platform}};
  if (last_seq) login["lastSeq"] = std::to_string(*last_seq);
  return Call("login-" + std::to_string(++next_id_), {{"login", login}});
}

nlohmann::json WsClient::SendText(const std::string& to, const std::string& text,
                                  const std::string& client_msg_id) {
  nlohmann::json send = {
      {"to", to},
      {"body", {{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", text}}}}}}};
  if (!client_msg_id.empty()) send["clientMsgId"] = client_msg_id;
  return Call("send-" + std::to_string(++next_id_), {{"send", send}});
}

uint64_t SeqOf(const nlohmann::json& event) {
  if (!event.contains("seq")) return 0;
  const auto& seq = event["seq"];
  return seq.is_string() ? std::stoull(seq.get<std::string>()) : seq.get<uint64_t>();
}

}  // namespace parley::testing
