// Push vendors behind one interface: each turns a notification into its
// server API's request and its answer into an Outcome. A new vendor is one
// class and one line in MakeVendor.
//
//   APNs    HTTP/2 provider API; token auth (JWT ES256, kept 40 min) or a
//           client certificate; production and sandbox hosts.
//   FCM     HTTP v1 API; OAuth2 access tokens from the service-account key
//           (JWT RS256 assertion), refreshed 5 min before they expire.
//   Huawei  Push Kit v1 messages:send, OAuth2 client credentials.
//   Honor   Push sendMessage, OAuth2 client credentials.
//   Xiaomi  /v3/message/regid, "key=<AppSecret>".
//   OPPO    /server/v1 auth (sha256 sign) and notification/unicast.
//   vivo    /message/auth (md5 sign) and /message/send.
// Endpoints default to the vendors' public hosts; tests point them at
// stand-ins (VendorEndpoints::Override).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "parley/v1/push.pb.h"
#include "push_rules.h"
#include "vendor_http.h"

namespace parley::push {

struct VendorEndpoints {
  // apns, apns_sandbox, fcm, huawei_auth, huawei, honor_auth, honor, xiaomi,
  // oppo, vivo -> base URL (scheme and host, no trailing slash).
  std::map<std::string, std::string> urls;
  static VendorEndpoints Defaults();
  // "name=url,name=url"; an unknown name is an error.
  absl::Status Override(const std::string& spec);
  std::string Get(const std::string& name) const;
};

// Vendor access tokens (OAuth2 and the like), per credential, fetched once
// and shared by every worker until shortly before they expire.
class TokenCache {
 public:
  struct Fetched {
    std::string token;
    std::chrono::seconds lifetime;
  };
  absl::StatusOr<std::string> Get(const std::string& key,
                                  const std::function<absl::StatusOr<Fetched>()>& fetch);
  // The vendor refused the token: the next Get fetches a new one.
  void Drop(const std::string& key);

 private:
  struct Entry {
    std::string token;
    std::chrono::steady_clock::time_point refresh_at;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // one per credential in use
};

// One notification's vendor request and how to read its answer; or, when no
// request can be made (no access token, a bad credential), the result.
struct Prepared {
  std::optional<SendResult> result;
  HttpRequest request;
  std::function<SendResult(const HttpResponse&)> interpret;
};

// Requests are made here and sent by the caller (VendorHttp::SendAll), so a
// batch of notifications to any vendors goes out at once.
class Vendor {
 public:
  virtual ~Vendor() = default;
  // May fetch (and cache) the vendor's access token first.
  virtual Prepared Prepare(const v1::PushCredential& credential, const std::string& token,
                           const v1::Notification& notification) = 0;
};

std::unique_ptr<Vendor> MakeVendor(const std::string& channel, const VendorHttp* http,
                                   const VendorEndpoints& endpoints);

// The APNs JSON payload (aps alert, badge, sound, and the app's ext).
std::string ApnsPayload(const v1::Notification& notification);

}  // namespace parley::push
