#include "parley/http/server.h"
#include "parley/metrics/metrics.h"

#include <array>
#include <list>
#include <mutex>
#include <unordered_map>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>
#include <boost/beast/websocket.hpp>

#include "absl/strings/str_cat.h"

namespace parley::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr uint32_t kMaxHeaderBytes = 16 * 1024;

namespace websocket = boost::beast::websocket;

// Counts open connections that have not authenticated, per client address
// and in all, and refuses new ones over the limits. Thread-safe.
class PreAuth {
 public:
  PreAuth(size_t per_ip, size_t total) : per_ip_(per_ip), total_limit_(total) {}

  bool Acquire(const std::string& ip) {
    std::lock_guard lock(mu_);
    if (total_limit_ > 0 && total_ >= total_limit_) return Refuse();
    auto it = by_ip_.find(ip);
    if (per_ip_ > 0 && it != by_ip_.end() && it->second >= per_ip_) return Refuse();
    if (it == by_ip_.end()) it = by_ip_.emplace(ip, 0).first;
    ++it->second;
    ++total_;
    return true;
  }

  void Release(const std::string& ip) {
    std::lock_guard lock(mu_);
    auto it = by_ip_.find(ip);
    if (it == by_ip_.end()) return;
    if (--it->second == 0) by_ip_.erase(it);
    --total_;
  }

  uint64_t total() const {
    std::lock_guard lock(mu_);
    return total_;
  }
  uint64_t refused() const { return refused_.load(); }

 private:
  bool Refuse() {
    refused_.fetch_add(1);
    return false;
  }

  const size_t per_ip_;
  const size_t total_limit_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, size_t> by_ip_;
  uint64_t total_ = 0;
  std::atomic<uint64_t> refused_{0};
};

// One connection's place in PreAuth until it authenticates or closes;
// Release() may run on any thread, once.
class PreAuthSlot {
 public:
  PreAuthSlot(std::shared_ptr<PreAuth> owner, std::string ip)
      : owner_(std::move(owner)), ip_(std::move(ip)) {}
  PreAuthSlot(PreAuthSlot&& other) noexcept
      : owner_(std::move(other.owner_)), ip_(std::move(other.ip_)),
        held_(other.held_.exchange(false)) {}
  PreAuthSlot& operator=(PreAuthSlot&&) = delete;
  ~PreAuthSlot() { Release(); }

  void Release() {
    if (held_.exchange(false) && owner_) owner_->Release(ip_);
  }

 private:
  std::shared_ptr<PreAuth> owner_;
  std::string ip_;
  std::atomic<bool> held_{true};
};

class WsSession : public WsConnection, public std::enable_shared_from_this<WsSession> {
 public:
  using WsConnection::Close;
  using WsConnection::Send;
  WsSession(tcp::socket socket, const ServerOptions& options,
            std::shared_ptr<Server::OpenConnections> open, PreAuthSlot slot)
      : ws_(std::move(socket)), options_(options), open_(std::move(open)), slot_(std::move(slot)) {
    open_->ws.fetch_add(1);
  }
  ~WsSession() override { open_->ws.fetch_sub(1); }

  void Start(bhttp::request<bhttp::string_body> upgrade, Request request) {
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = std::chrono::seconds(10);
    timeout.idle_timeout = options_.ws_idle_timeout;
    timeout.keep_alive_pings = false;  // clients must send heartbeats
    ws_.set_option(timeout);
    ws_.read_message_max(options_.ws_max_message_bytes);
    auto req = std::make_shared<bhttp::request<bhttp::string_body>>(std::move(upgrade));
    ws_.async_accept(*req, [self = shared_from_this(), req,
                            request = std::move(request)](beast::error_code ec) {
      if (ec) return;
      self->handler_ = self->options_.ws_accept(self, request);
      if (!self->handler_) return self->Close();
      self->ReadNext();
    });
  }

  void Send(Frame data, bool binary) override {
    net::post(ws_.get_executor(), [self = shared_from_this(), data = std::move(data), binary]() mutable {
      if (self->finished_ || self->closing_) return;
      size_t limit = self->options_.ws_max_queued_bytes;
      if (limit != 0 && self->queued_bytes_ + data->size() > limit) {
        // A client that does not read: drop what it has not taken and end
        // the connection, rather than hold ever more for it.
        static auto& slow = metrics::Registry::Default().GetCounter(
            "parley_http_ws_slow_consumers_total",
            "WebSocket connections closed because their unread frames passed the bound");
        slow.Increment();
        // No close handshake: a client that does not read would not answer
        // it. The socket is closed now (the client sees 1006).
        if (self->writing_) {
          self->queue_.resize(1);  // the write in flight still uses the front
          self->queued_bytes_ = self->queue_.front().first->size();
        }
        return self->Finish();
      }
      self->queued_bytes_ += data->size();
      self->queue_.emplace_back(std::move(data), binary);
      if (!self->writing_) self->WriteNext();
    });
  }

  void MarkAuthenticated() override { slot_.Release(); }

  void Close(uint16_t code, std::string reason) override {
    net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
      if (self->closing_) return;
      self->closing_ = true;
      self->close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
      if (!self->writing_) self->CloseNow();
    });
  }

 private:
  void ReadNext() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->timed_out_ = ec == beast::error::timeout;
        return self->Finish();
      }
      if (self->finished_) return;  // ended meanwhile (a failed write)
      std::string data = beast::buffers_to_string(self->buffer_.data());
      // Release the buffer between messages: an idle connection would keep
      // its largest message's capacity for good.
      self->buffer_.clear();
      self->buffer_.shrink_to_fit();
      self->handler_->OnMessage(std::move(data), self->ws_.got_binary());
      self->ReadNext();
    });
  }

  void WriteNext() {
    writing_ = true;
    ws_.binary(queue_.front().second);
    // The buffer is queue_.front(); only this completion removes it.
    ws_.async_write(net::buffer(*queue_.front().first),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->queued_bytes_ -= self->queue_.front().first->size();
                      self->queue_.pop_front();
                      if (ec || self->finished_) {
                        self->writing_ = false;
                        self->queue_.clear();
                        self->queued_bytes_ = 0;
                        return self->Finish();
                      }
                      if (!self->queue_.empty()) return self->WriteNext();
                      self->writing_ = false;
                      if (self->closing_) self->CloseNow();
                    });
  }

  void CloseNow() {
    if (close_sent_) return;
    close_sent_ = true;
    ws_.async_close(close_reason_,
                    [self = shared_from_this()](beast::error_code) { self->Finish(); });
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    // A write in flight still uses queue_.front(): its completion clears.
    if (!writing_) {
      queue_.clear();
      queued_bytes_ = 0;
    }
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
    // The handler usually holds this connection (to send on it): dropping
    // our reference breaks the cycle, so both are freed once the last
    // pending operation on either completes.
    if (auto handler = std::move(handler_)) handler->OnClose(timed_out_);
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  const ServerOptions& options_;
  std::shared_ptr<Server::OpenConnections> open_;
  PreAuthSlot slot_;
  std::shared_ptr<WsHandler> handler_;
  // Touched on the strand only. A list: an empty deque already holds ~600
  // bytes, and idle connections are most connections.
  std::list<std::pair<Frame, bool>> queue_;
  size_t queued_bytes_ = 0;  // of queue_
  websocket::close_reason close_reason_{websocket::close_code::normal};
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
  bool timed_out_ = false;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const ServerOptions& options, const Handler& handler,
          std::shared_ptr<Server::OpenConnections> open, PreAuthSlot slot)
      : stream_(std::move(socket)),
        options_(options),
        handler_(handler),
        open_(std::move(open)),
        slot_(std::move(slot)) {
    open_->http.fetch_add(1);
  }
  ~Session() { open_->http.fetch_sub(1); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadNext(); });
  }

 private:
  void ReadNext() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(kMaxHeaderBytes);
    stream_.expires_after(options_.idle_timeout);
    if (options_.head_check) {
      bhttp::async_read_header(stream_, buffer_, *parser_,
                               [self = shared_from_this()](beast::error_code ec, size_t) {
                                 self->OnHeader(ec);
                               });
      return;
    }
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->OnRead(ec);
                      });
  }

  // The line and headers are in: head_check decides before the body is read.
  void OnHeader(beast::error_code ec) {
    if (ec || websocket::is_upgrade(parser_->get())) return OnRead(ec);
    version_ = parser_->get().version();
    Request head = BuildRequest();
    stream_.expires_never();  // the check's own deadlines bound the wait
    options_.head_check(head, [self = shared_from_this()](std::optional<Response> answer) {
      net::post(self->stream_.get_executor(), [self, answer = std::move(answer)]() mutable {
        if (answer) {
          // The body stays unread, so the connection can't be used again.
          self->keep_alive_ = false;
          answer->close = true;
          return self->Write(std::move(*answer));
        }
        self->slot_.Release();
        if (self->parser_->is_done()) return self->OnRead({});
        self->stream_.expires_after(self->options_.idle_timeout);
        bhttp::async_read(self->stream_, self->buffer_, *self->parser_,
                          [self](beast::error_code ec, size_t) { self->OnRead(ec); });
      });
    });
  }

  Request BuildRequest() {
    const auto& msg = parser_->get();
    Request request;
    request.method = std::string(msg.method_string());
    request.target = std::string(msg.target());
    size_t q = request.target.find('?');
    request.path = request.target.substr(0, q);
    if (q != std::string::npos) request.query = request.target.substr(q + 1);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers.emplace(std::move(name), std::string(field.value()));
    }
    if (auto it = request.headers.find("content-type"); it != request.headers.end()) {
      request.content_type = it->second;
    }
    beast::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) request.remote_ip = endpoint.address().to_string();
    return request;
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout) {
      return Close();
    }
    // Beast reports the limit once the request line and fields are parsed.
    if (ec == bhttp::error::body_limit && options_.body_too_large) {
      Request request = BuildRequest();
      Response response = options_.body_too_large(request);
      response.close = true;
      keep_alive_ = false;
      return Write(std::move(response));
    }
    if (ec) {
      // Malformed HTTP: answer 400 when the peer can still read, then close.
      keep_alive_ = false;
      return Write(Response{400, "text/plain", absl::StrCat("bad request: ", ec.message(), "\n"),
                            true});
    }
    keep_alive_ = parser_->get().keep_alive();
    version_ = parser_->get().version();
    Request request = BuildRequest();
    if (websocket::is_upgrade(parser_->get())) {
      if (!options_.ws_accept || request.path != options_.ws_path) {
        keep_alive_ = false;
        return Write(Response{404, "text/plain", "no WebSocket endpoint here\n", true});
      }
      // The socket leaves this HTTP session for a WebSocket session.
      stream_.expires_never();
      std::make_shared<WsSession>(stream_.release_socket(), options_, open_, std::move(slot_))
          ->Start(parser_->release(), std::move(request));
      return;
    }
    request.body = std::move(parser_->get().body());
    stream_.expires_never();  // the handler's own deadlines bound the wait
    auto responder = [self = shared_from_this()](Response response) {
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response)]() mutable {
                  self->Write(std::move(response));
                });
    };
    try {
      handler_(std::move(request), std::move(responder));
    } catch (const std::exception& e) {
      Write(Response{500, "text/plain", "internal error\n", true});
    }
  }

  void Write(Response response) {
    auto message = std::make_shared<bhttp::response<bhttp::string_body>>();
    message->version(version_);
    message->result(static_cast<bhttp::status>(response.status));
    message->set(bhttp::field::server, "parley");
    message->set(bhttp::field::content_type, response.content_type);
    message->body() = std::move(response.body);
    bool keep = keep_alive_ && !response.close;
    message->keep_alive(keep);
    message->prepare_payload();
    stream_.expires_after(options_.idle_timeout);
    bhttp::async_write(stream_, *message,
                       [self = shared_from_this(), message, keep](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         if (!keep) return self->LingerClose();
                         self->ReadNext();
                       });
  }

  // Half-closes, then discards what the peer still sends (e.g. the rest of an
  // oversized body) for a moment, so the peer reads our answer instead of a
  // connection reset.
  void LingerClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    stream_.expires_after(std::chrono::seconds(2));
    DrainSome();
  }

  void DrainSome() {
    auto scratch = std::make_shared<std::array<char, 16384>>();
    stream_.async_read_some(net::buffer(*scratch),
                            [self = shared_from_this(), scratch](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->DrainSome();
                            });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const ServerOptions& options_;
  const Handler& handler_;
  std::shared_ptr<Server::OpenConnections> open_;
  PreAuthSlot slot_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::shared_ptr<Server::OpenConnections> open;
  std::shared_ptr<PreAuth> preauth;

  Impl(ServerOptions o, Handler h, std::shared_ptr<Server::OpenConnections> counter)
      : options(std::move(o)),
        handler(std::move(h)),
        ioc(options.threads),
        open(std::move(counter)),
        preauth(std::make_shared<PreAuth>(options.max_unauthenticated_per_ip,
                                          options.max_unauthenticated)) {}

  void Accept() {
    acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
      if (!ec) {
        auto endpoint = socket.remote_endpoint(ec);
        std::string ip = ec ? std::string() : endpoint.address().to_string();
        if (!preauth->Acquire(ip)) {
          socket.close(ec);  // over the unauthenticated-connection limits
        } else {
          socket.set_option(tcp::no_delay(true), ec);
          std::make_shared<Session>(std::move(socket), options, handler, open,
                                    PreAuthSlot(preauth, ip))
              ->Start();
        }
      }
      Accept();
    });
  }
};

Server::Server(ServerOptions options, Handler handler)
    : open_(std::make_shared<OpenConnections>()) {
  impl_ = std::make_unique<Impl>(std::move(options), std::move(handler), open_);
}

Server::~Server() { Stop(); }

uint64_t Server::unauthenticated_connections() const { return impl_->preauth->total(); }
uint64_t Server::refused_connections() const { return impl_->preauth->refused(); }

absl::Status Server::Start() {
  std::string host;
  int port = 0;
  if (!SplitHostPort(impl_->options.address, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("bad listen address ", impl_->options.address));
  }
  beast::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen host ", host));
  tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  impl_->acceptor.emplace(impl_->ioc);
  impl_->acceptor->open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor->bind(endpoint, ec);
  if (!ec) impl_->acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", impl_->options.address, ": ", ec.message()));
  }
  port_ = impl_->acceptor->local_endpoint().port();
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->Accept();
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
  return absl::OkStatus();
}

void Server::StopAccepting() {
  if (!impl_->acceptor) return;
  net::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ec;
    if (impl->acceptor && impl->acceptor->is_open()) impl->acceptor->close(ec);
  });
}

void Server::Stop() {
  if (impl_->threads.empty()) return;
  StopAccepting();
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  // The posted close may not have run before stop(): close here, with no
  // thread left, so the port is free again at once.
  beast::error_code ec;
  if (impl_->acceptor && impl_->acceptor->is_open()) impl_->acceptor->close(ec);
}

}  // namespace parley::http
