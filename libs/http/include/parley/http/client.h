// A small synchronous HTTP/1.1 client for outgoing webhooks: POST with a
// deadline, keep-alive connections reused per host, HTTPS with certificate
// and host-name verification against the system's CA store.
//
//   http::Client client;
//   auto answer = client.Post("https://hooks.example.com/im?x=1", json,
//                             std::chrono::milliseconds(2000));
//
// Thread-safe: each call borrows an idle connection to the host (or opens
// one) and returns it when the exchange ended cleanly.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace parley::http {

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query, at least "/"
};
// http:// or https:// URLs only.
absl::StatusOr<Url> ParseUrl(const std::string& url);

struct ClientResponse {
  int status = 0;
  std::string body;
};

class Client {
 public:
  Client();
  ~Client();

  // DEADLINE_EXCEEDED on timeout, UNAVAILABLE on connection or TLS errors,
  // INVALID_ARGUMENT on a bad URL.
  absl::StatusOr<ClientResponse> Post(const std::string& url, const std::string& body,
                                      std::chrono::milliseconds timeout,
                                      const std::string& content_type = "application/json");

  // Connections opened so far (for tests of reuse).
  uint64_t connections_opened() const;

 private:
  struct Connection;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::http
