// A blocking HTTP/1.1 client for tests (Boost.Beast), with keep-alive.
#pragma once

#include <map>
#include <memory>
#include <string>

namespace parley::testing {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  bool keep_alive = false;
};

class HttpClient {
 public:
  explicit HttpClient(int port);
  ~HttpClient();
  // Sends on the open connection (reconnecting if it was closed).
  HttpResponse Send(const std::string& method, const std::string& target, const std::string& body,
                    const std::map<std::string, std::string>& headers = {});
  // True if the server kept the connection open after the last exchange.
  bool connection_open() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

HttpResponse HttpPost(int port, const std::string& target, const std::string& body);
HttpResponse HttpGet(int port, const std::string& target);

// Writes raw bytes and returns everything the server sends until it closes
// the connection or `timeout_ms` passes.
std::string RawExchange(int port, const std::string& bytes, int timeout_ms = 3000);

}  // namespace parley::testing
