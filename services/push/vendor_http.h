// HTTPS requests to push vendors through libcurl (HTTP/2 via nghttp2 where
// the vendor speaks it: APNs requires it). Each thread keeps its own curl
// multi handle, so connections (and APNs' long-lived HTTP/2 connections)
// are reused across requests without locks, and a batch of requests runs
// at once: multiplexed as streams of one HTTP/2 connection per host, or over
// parallel HTTP/1.1 connections (at most kMaxHostConnections per host).
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace parley::push {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  bool http2 = false;  // require HTTP/2 over TLS (ALPN)
  // Client certificate and key (PEM) for certificate-authenticated APNs.
  std::string client_cert_pem;
  std::string client_key_pem;
  std::chrono::milliseconds timeout{10000};
};

struct HttpResponse {
  long status = 0;  // 0: no answer (connect, TLS or timeout failure)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string error;  // curl's reason when status is 0 (for logs, not callers)
  double seconds = 0;  // the request's own time, connection included
};

inline constexpr long kMaxHostConnections = 8;

class VendorHttp {
 public:
  // `ca_file`: extra CA bundle to trust (tests' stand-ins); empty: the system's.
  explicit VendorHttp(std::string ca_file = "");
  HttpResponse Send(const HttpRequest& request) const;
  // Every request at once; the answers in the same order. Returns when the
  // last one is answered or timed out.
  std::vector<HttpResponse> SendAll(const std::vector<const HttpRequest*>& requests) const;

  // curl_global_init, once per process, before threads start.
  static void GlobalInit();

 private:
  std::string ca_file_;
};

// application/x-www-form-urlencoded from pairs.
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace parley::push
