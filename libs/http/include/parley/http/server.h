// A small HTTP/1.1 server on Boost.Beast for Parley's public and metrics
// endpoints.
//
// Connections are kept alive; each connection serves one request at a time.
// The handler runs on an I/O thread and must not block: it answers through
// the Responder, which may be called later from any thread (e.g. a gRPC
// completion), exactly once. A body over max_body_bytes is answered with
// options.body_too_large(request) and the connection is then closed (the
// unread body makes it unusable), never silently dropped.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace parley::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path plus query, as sent
  std::string path;
  std::string query;   // after '?', undecoded
  std::string body;
  std::string content_type;
  std::string remote_ip;
  // Headers by lower-case name.
  std::map<std::string, std::string> headers;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool close = false;  // close the connection after writing
};

using Responder = std::function<void(Response)>;
using Handler = std::function<void(Request, Responder)>;
// Decides on a request from its line and headers alone, before its body is
// read: an answer ends it there (the body is never buffered and the
// connection closes), std::nullopt lets it go on to the handler. May answer
// later, from any thread, exactly once.
using HeadDecision = std::function<void(std::optional<Response>)>;
using HeadCheck = std::function<void(const Request& head, HeadDecision decide)>;

// A WebSocket connection. Send() and Close() are thread-safe; frames go out
// in the order Send() was called.
class WsConnection {
 public:
  // A frame's bytes, shared by every connection it goes to (a group or room
  // event goes to thousands: one buffer, no copy each).
  using Frame = std::shared_ptr<const std::string>;
  virtual ~WsConnection() = default;
  virtual void Send(Frame data, bool binary) = 0;
  void Send(std::string data, bool binary) {
    Send(std::make_shared<const std::string>(std::move(data)), binary);
  }
  // Closes after the frames already queued are written, with WebSocket
  // close code `code` (1000: normal; 4000-4999 are the application's).
  virtual void Close(uint16_t code, std::string reason) = 0;
  void Close() { Close(1000, ""); }
  // The peer proved who it is (logged in): the connection no longer counts
  // against the limits on unauthenticated connections.
  virtual void MarkAuthenticated() = 0;
};

// Receives one connection's frames, one at a time, on an I/O thread.
class WsHandler {
 public:
  virtual ~WsHandler() = default;
  virtual void OnMessage(std::string data, bool binary) = 0;
  // Called once when the connection has ended; `timed_out` when it ended
  // because nothing arrived for ws_idle_timeout.
  virtual void OnClose(bool timed_out) = 0;
};

// Accepts an upgraded connection; returning nullptr closes it.
using WsAccept =
    std::function<std::shared_ptr<WsHandler>(std::shared_ptr<WsConnection>, const Request&)>;

struct ServerOptions {
  std::string address = "127.0.0.1:8080";  // host:port; port 0 picks one
  int threads = 2;
  size_t max_body_bytes = 1 << 20;
  std::chrono::seconds idle_timeout{75};
  // Builds the answer to a request whose body exceeds max_body_bytes.
  std::function<Response(const Request&)> body_too_large;
  // WebSocket upgrades on ws_path go to ws_accept (none when unset).
  std::string ws_path = "/ws";
  WsAccept ws_accept;
  // Larger frames end the connection (close code 1009).
  size_t ws_max_message_bytes = 1 << 20;
  // A connection that receives nothing for this long is closed.
  std::chrono::seconds ws_idle_timeout{90};
  // Outgoing frames a WebSocket holds while its client reads slower than
  // the server writes: over this many bytes queued, the socket is closed at
  // once, without a close handshake the client would not answer (it sees
  // 1006); it reconnects and resumes by seq. 0: no limit.
  size_t ws_max_queued_bytes = 8 << 20;
  // Runs on every request that is not a WebSocket upgrade (see HeadCheck).
  // A request it lets through marks its connection authenticated.
  HeadCheck head_check;
  // Connections not yet authenticated (by head_check, or by the WebSocket
  // handler's MarkAuthenticated()), per client address and in all; a
  // connection over either limit is closed as soon as it is accepted.
  // 0: no limit.
  size_t max_unauthenticated_per_ip = 0;
  size_t max_unauthenticated = 0;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O threads. Fails if the address can't be bound.
  absl::Status Start();
  // Stops accepting new connections; open ones finish their current request.
  void StopAccepting();
  // Closes everything and joins the threads. Idempotent.
  void Stop();

  int port() const { return port_; }
  // Sockets open now: plain HTTP ones (waiting for or serving a request) and
  // upgraded WebSocket ones. Each counts from accept until its socket object
  // is freed, so a count that only grows is a leak.
  struct OpenConnections {
    std::atomic<uint64_t> http{0};
    std::atomic<uint64_t> ws{0};
  };
  uint64_t open_connections() const { return open_->http.load() + open_->ws.load(); }
  // Open and not yet authenticated; and how many were refused at accept.
  uint64_t unauthenticated_connections() const;
  uint64_t refused_connections() const;
  uint64_t open_http_connections() const { return open_->http.load(); }
  uint64_t open_ws_connections() const { return open_->ws.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::shared_ptr<OpenConnections> open_;
};

// Splits "host:port" (host may be "[::1]"). False when malformed.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

// Decodes an application/x-www-form-urlencoded query. Later duplicates of a
// name are ignored (the first one wins).
std::map<std::string, std::string> ParseQuery(std::string_view query);

}  // namespace parley::http
