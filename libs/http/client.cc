#include "parley/http/client.h"

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace parley::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

absl::StatusOr<Url> ParseUrl(const std::string& url) {
  Url out;
  std::string rest;
  if (absl::StartsWith(url, "https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else if (absl::StartsWith(url, "http://")) {
    rest = url.substr(7);
  } else {
    return absl::InvalidArgumentError("URL must start with http:// or https://");
  }
  size_t slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (out.target[0] == '?') out.target = "/" + out.target;
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  } else {
    out.host = authority;
    out.port = out.tls ? "443" : "80";
  }
  if (out.host.empty() || out.port.empty()) return absl::InvalidArgumentError("URL has no host");
  return out;
}

// One open connection: its own io_context, so blocking calls with deadlines
// need no shared event loop.
struct Client::Connection {
  asio::io_context io;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

struct Client::Impl {
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;  // by scheme://host:port
  std::atomic<uint64_t> opened{0};
};

Client::Client() : impl_(std::make_unique<Impl>()) {
  impl_->tls.set_default_verify_paths();
  impl_->tls.set_verify_mode(asio::ssl::verify_peer);
}

Client::~Client() = default;

uint64_t Client::connections_opened() const { return impl_->opened.load(); }

namespace {

absl::Status FromError(const beast::error_code& ec, const std::string& what) {
  if (ec == beast::error::timeout) return absl::DeadlineExceededError(what + ": timed out");
  return absl::UnavailableError(absl::StrCat(what, ": ", ec.message()));
}

}  // namespace

absl::StatusOr<ClientResponse> Client::Post(const std::string& url, const std::string& body,
                                            std::chrono::milliseconds timeout,
                                            const std::string& content_type) {
  auto parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  std::string key = absl::StrCat(parsed->tls ? "https://" : "http://", parsed->host, ":",
                                 parsed->port);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::steady_clock::duration(std::chrono::milliseconds(1)),
                    deadline - std::chrono::steady_clock::now());
  };

  // A reused connection may have been closed by the server meanwhile: then
  // the exchange fails before any byte of an answer, and one fresh
  // connection is tried.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> connection;
    bool reused = false;
    if (attempt == 0) {
      std::lock_guard lock(impl_->mu);
      auto& pool = impl_->idle[key];
      if (!pool.empty()) {
        connection = std::move(pool.back());
        pool.pop_back();
        reused = true;
      }
    }
    beast::error_code ec;
    // Beast enforces a tcp_stream's deadline on asynchronous operations only,
    // so each step is started asynchronously and run to completion here.
    auto run = [&connection] {
      connection->io.restart();
      connection->io.run();
    };
    if (!connection) {
      connection = std::make_unique<Connection>();
      tcp::resolver resolver(connection->io);
      auto endpoints = resolver.resolve(parsed->host, parsed->port, ec);
      if (ec) return FromError(ec, "resolve " + parsed->host);
      if (parsed->tls) {
        connection->secure.emplace(connection->io, impl_->tls);
        if (!SSL_set_tlsext_host_name(connection->secure->native_handle(), parsed->host.c_str())) {
          return absl::UnavailableError("TLS: cannot set server name");
        }
        connection->secure->set_verify_callback(asio::ssl::host_name_verification(parsed->host));
      } else {
        connection->plain.emplace(connection->io);
      }
      connection->lowest().expires_after(left());
      connection->lowest().async_connect(
          endpoints, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
      run();
      if (ec) return FromError(ec, "connect " + key);
      if (connection->secure) {
        connection->lowest().expires_after(left());
        connection->secure->async_handshake(asio::ssl::stream_base::client,
                                            [&ec](beast::error_code e) { ec = e; });
        run();
        if (ec) return FromError(ec, "TLS handshake with " + key);
      }
      impl_->opened.fetch_add(1);
    }

    bhttp::request<bhttp::string_body> request{bhttp::verb::post, parsed->target, 11};
    request.set(bhttp::field::host, parsed->host);
    request.set(bhttp::field::user_agent, "parley");
    request.set(bhttp::field::content_type, content_type);
    request.keep_alive(true);
    request.body() = body;
    request.prepare_payload();
    bhttp::response<bhttp::string_body> response;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1 << 20);

    connection->lowest().expires_after(left());
    auto on_write = [&](beast::error_code e, size_t) {
      ec = e;
      if (e) return;
      auto on_read = [&ec](beast::error_code e2, size_t) { ec = e2; };
      if (connection->secure) {
        bhttp::async_read(*connection->secure, connection->buffer, parser, on_read);
      } else {
        bhttp::async_read(*connection->plain, connection->buffer, parser, on_read);
      }
    };
    if (connection->secure) {
      bhttp::async_write(*connection->secure, request, on_write);
    } else {
      bhttp::async_write(*connection->plain, request, on_write);
    }
    run();
    if (ec) {
      bool stale = reused && ec != beast::error::timeout && !parser.got_some();
      if (stale) continue;
      return FromError(ec, "POST " + key);
    }
    response = parser.release();
    ClientResponse out{static_cast<int>(response.result_int()), std::move(response.body())};
    if (response.keep_alive()) {
      std::lock_guard lock(impl_->mu);
      auto& pool = impl_->idle[key];
      if (pool.size() < 16) pool.push_back(std::move(connection));
    }
    return out;
  }
  return absl::UnavailableError("POST " + key + ": connection closed");
}

}  // namespace parley::http
