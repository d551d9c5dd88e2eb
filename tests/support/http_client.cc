#include "support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>

namespace parley::testing {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpClient::Impl {
  int port;
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool open = false;

  void Connect() {
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
    open = true;
  }
};

HttpClient::HttpClient(int port) : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  impl_->Connect();
}

HttpClient::~HttpClient() {
  beast::error_code ec;
  impl_->stream.socket().close(ec);
}

bool HttpClient::connection_open() const { return impl_->open; }

HttpResponse HttpClient::Send(const std::string& method, const std::string& target,
                              const std::string& body,
                              const std::map<std::string, std::string>& headers) {
  if (!impl_->open) {
    beast::error_code ec;
    impl_->stream.socket().close(ec);
    impl_->buffer.clear();
    impl_->Connect();
  }
  bhttp::request<bhttp::string_body> request(bhttp::string_to_verb(method), target, 11);
  request.set(bhttp::field::host, "127.0.0.1");
  request.set(bhttp::field::content_type, "application/json");
  for (const auto& [k, v] : headers) request.set(k, v);
  request.body() = body;
  request.prepare_payload();
  request.keep_alive(true);
  impl_->stream.expires_after(std::chrono::seconds(15));
  bhttp::write(impl_->stream, request);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  bhttp::read(impl_->stream, impl_->buffer, parser);
  auto& message = parser.get();
  HttpResponse response;
  response.status = static_cast<int>(message.result_int());
  response.body = message.body();
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    response.headers[name] = std::string(field.value());
  }
  response.keep_alive = message.keep_alive();
  impl_->open = response.keep_alive;
  return response;
}

HttpResponse HttpPost(int port, const std::string& target, const std::string& body) {
  HttpClient client(port);
  return client.Send("POST", target, body);
}

HttpResponse HttpGet(int port, const std::string& target) {
  HttpClient client(port);
  return client.Send("GET", target, "");
}

std::string RawExchange(int port, const std::string& bytes, int timeout_ms) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  beast::error_code ec;
  net::write(socket, net::buffer(bytes), ec);
  std::string out;
  char buffer[8192];
  for (;;) {
    size_t n = socket.read_some(net::buffer(buffer), ec);
    if (ec) break;
    out.append(buffer, n);
  }
  return out;
}

}  // namespace parley::testing
