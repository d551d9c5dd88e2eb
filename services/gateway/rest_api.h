// Tencent-compatible REST: POST /v4/<service>/<command>?sdkappid=&identifier=
// &usersig=&random=&contenttype=json (compat reference §2).
//
// RestApi checks the URL parameters, authenticates the admin UserSig through
// the auth service (results cached briefly), checks the JSON body and hands
// it to the route registered for <service>/<command>. A route transcodes the
// body into a request proto with protobuf's JSON mapping (Tencent names come
// from json_name), calls a service over gRPC and transcodes the response
// back, so an endpoint is one table row (routes.cc). Every answer is
// HTTP 200 with {"ActionStatus","ErrorInfo","ErrorCode", ...fields}.
//
// Nothing here blocks: gRPC calls use the callback API and answer through the
// HTTP responder. Thread-safe after setup (Add* before serving).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>

#include "absl/status/status.h"
#include "parley/cache/ttl_cache.h"
#include "parley/ratelimit/ratelimit.h"
#include "parley/redis/pool.h"
#include "parley/errors/errors.h"
#include "parley/http/server.h"
#include "parley/rpc/caller.h"
#include "parley/rpc/client.h"
#include "parley/v1/auth.grpc.pb.h"

namespace parley::gateway {

// The codes one Tencent service uses for generic failures (§2.4, §2.5).
struct ServiceCodes {
  int32_t requires_admin = errors::kRequiresAdmin;
  int32_t json_parse = errors::kJsonParse;
  int32_t invalid_param = errors::kJsonParse;
  int32_t internal = errors::kAccountInternal;
};

// What a route produces: a status, or the response proto as JSON fields.
struct RouteResult {
  absl::Status status;
  std::string json;  // a JSON object, when status is OK
};
using RouteDone = std::function<void(RouteResult)>;
// Runs one endpoint for an authenticated admin. `body` is a JSON object.
using Route = std::function<void(const rpc::Caller& caller, const std::string& body,
                                 const ServiceCodes& codes, RouteDone done)>;

// Builds a Route for a unary RPC from a function that starts the call with
// the gRPC callback API (stub->async()->Method(...)).
template <class Req, class Resp>
using AsyncCall = std::function<void(grpc::ClientContext*, const Req*, Resp*,
                                     std::function<void(grpc::Status)>)>;

absl::Status ParseJsonBody(const std::string& body, google::protobuf::Message* message,
                           const ServiceCodes& codes);
std::string PrintJson(const google::protobuf::Message& message);

template <class Req, class Resp>
Route UnaryRoute(AsyncCall<Req, Resp> call, std::chrono::milliseconds deadline) {
  return [call = std::move(call), deadline](const rpc::Caller& caller, const std::string& body,
                                            const ServiceCodes& codes, RouteDone done) {
    auto state = rpc::NewAsyncCall<Req, Resp>(&caller, deadline);
    if (auto st = ParseJsonBody(body, &state->request, codes); !st.ok()) {
      return done({st, ""});
    }
    call(state->context.get(), &state->request, &state->response,
         [state, done = std::move(done)](grpc::Status status) {
           if (!status.ok()) return done({errors::FromGrpc(status), ""});
           done({absl::OkStatus(), PrintJson(state->response)});
         });
  };
}

struct RestOptions {
  std::chrono::seconds auth_cache_ttl{10};
  std::chrono::milliseconds rpc_deadline{rpc::kDefaultDeadline};
};

class RestApi {
 public:
  RestApi(std::shared_ptr<v1::AuthService::StubInterface> auth, RestOptions options);

  void AddService(const std::string& service, ServiceCodes codes);
  void AddRoute(const std::string& service, const std::string& command, Route route);
  // Lets end users call `service`'s commands (or, as "service/command", one
  // command) over the client protocol; the services make users act for
  // themselves.
  void AllowForUsers(const std::string& service) { user_services_.insert(service); }
  // Runs service/command for a logged-in end user; false when the command is
  // unknown or not open to users.
  bool CallForUser(const rpc::Caller& caller, const std::string& service,
                   const std::string& command, const std::string& body, RouteDone done) const;

  // Serves one /v4/... request.
  void Handle(const http::Request& request, http::Responder respond);
  // For http::ServerOptions::head_check: checks the URL and the UserSig from
  // the request line alone, so a caller that fails gets its error without
  // the server ever reading (and holding) its body.
  void CheckHead(const http::Request& head, http::HeadDecision decide);
  // The answer to a body over the size limit.
  static http::Response BodyTooLarge(size_t limit);

  // Frequency limits per app and command, shared by every gateway through
  // `redis` (ratelimit.h); over the limit a call gets 60007, and at 80% of
  // it the app's backend gets Alert.RequestOverLimit, at most once a minute
  // per command. Without this, no limits.
  void SetLimits(ratelimit::SharedLimiter* limiter, redis::Pool* redis) {
    limiter_ = limiter;
    redis_ = redis;
  }
  // The limit of `service/command` for an app allowing `app_limit` per command.
  static int64_t CommandLimit(const std::string& service, const std::string& command,
                              int64_t app_limit);

  uint64_t requests_total() const { return requests_total_.load(); }
  std::chrono::milliseconds rpc_deadline() const { return options_.rpc_deadline; }

 private:
  struct Pending;
  void Authenticated(std::shared_ptr<Pending> pending);
  std::shared_ptr<Pending> NewPending(http::Responder respond) const;
  // The URL's path and parameters into `pending`; false when it failed
  // (and was answered).
  bool ParseHead(const http::Request& request, Pending& pending) const;
  // Verifies the UserSig (or finds it in the cache), then runs `next`.
  void Authenticate(std::shared_ptr<Pending> pending,
                    std::function<void(std::shared_ptr<Pending>)> next);
  void Finish(const Pending& pending, int32_t code, const std::string& info,
              const std::string& json) const;
  // False (and answered 60007) when the call is over its app's limit.
  bool WithinLimit(const Pending& pending);
  void MaybeAlert(const Pending& pending, int64_t seen, int64_t limit);

  std::shared_ptr<v1::AuthService::StubInterface> auth_;
  RestOptions options_;
  std::map<std::string, ServiceCodes> services_;
  std::map<std::string, Route> routes_;  // "service/command"
  std::set<std::string> user_services_;
  cache::TtlCache<std::string, bool> auth_cache_{100000};
  // An app's REST calls per second per command, from its last Authenticate.
  cache::TtlCache<uint64_t, int64_t> app_limits_{100000};
  ratelimit::SharedLimiter* limiter_ = nullptr;
  redis::Pool* redis_ = nullptr;
  std::mutex alerts_mu_;
  std::map<std::string, int64_t> last_alert_ms_;  // by "<app> <service>/<command>" 
  mutable std::atomic<uint64_t> requests_total_{0};
};

// The envelope: {"ActionStatus":..,"ErrorInfo":..,"ErrorCode":..} merged with
// the fields of `json` (a JSON object, or empty).
std::string Envelope(int32_t code, const std::string& info, const std::string& json);

}  // namespace parley::gateway
