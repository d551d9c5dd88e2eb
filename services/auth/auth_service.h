// The auth service: apps, UserSig verification and accounts.
//
// AuthLogic holds the behaviour and is what tests construct; AuthGrpcService
// only adapts it to the generated gRPC interface. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "auth_store.h"
#include "parley/batching/batcher.h"
#include "parley/cache/ttl_cache.h"
#include "parley/rpc/caller.h"
#include "parley/v1/auth.grpc.pb.h"
#include "parley/v1/relationship.grpc.pb.h"
#include "session_store.h"


namespace parley::auth {

struct AuthOptions {
  // How long app records (key, admins) are cached; also bounds how long a
  // key rotation or admin change takes to apply everywhere.
  int64_t app_cache_seconds = 5;
  size_t sig_cache_capacity = 100000;
  int max_admins = 5;
  size_t max_batch = 100;  // multiaccount_import, account_delete, account_check
};

// Validates a UserID: 1..32 bytes, no control characters.
absl::Status ValidateUserId(const std::string& user_id);

class AuthLogic {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds

  AuthLogic(AuthStore* store, SessionStore* sessions, Clock now, AuthOptions options = {});

  // Where account_import's Nick and FaceUrl go: the relationship service's
  // profiles (Tag_Profile_IM_Nick, Tag_Profile_IM_Image). Unset: kept here only.
  void SetProfiles(std::shared_ptr<v1::RelationshipService::StubInterface> profiles) {
    profiles_ = std::move(profiles);
  }

  absl::StatusOr<v1::AuthenticateResponse> Authenticate(const v1::AuthenticateRequest& request);

  absl::StatusOr<v1::App> CreateApp(const v1::CreateAppRequest& request);
  absl::StatusOr<v1::App> GetApp(const v1::GetAppRequest& request);
  absl::StatusOr<v1::ListAppsResponse> ListApps(const v1::ListAppsRequest& request);
  absl::StatusOr<v1::App> SetAppAdmins(const v1::SetAppAdminsRequest& request);
  absl::StatusOr<v1::App> SetAppLimits(const v1::SetAppLimitsRequest& request);
  // Creates or updates the app named by PARLEY_SDKAPPID / PARLEY_SECRET_KEY.
  absl::Status EnsureBootstrapApp(uint64_t sdkappid, const std::string& secret_key,
                                  const std::string& admin_id);

  absl::StatusOr<v1::AccountImportResponse> AccountImport(const rpc::Caller& caller,
                                                          const v1::AccountImportRequest& request);
  absl::StatusOr<v1::MultiAccountImportResponse> MultiAccountImport(
      const rpc::Caller& caller, const v1::MultiAccountImportRequest& request);
  absl::StatusOr<v1::AccountDeleteResponse> AccountDelete(const rpc::Caller& caller,
                                                          const v1::AccountDeleteRequest& request);
  absl::StatusOr<v1::AccountCheckResponse> AccountCheck(const rpc::Caller& caller,
                                                        const v1::AccountCheckRequest& request);
  absl::StatusOr<v1::KickResponse> Kick(const rpc::Caller& caller, const v1::KickRequest& request);
  absl::StatusOr<v1::AccountsExistResponse> AccountsExist(const rpc::Caller& caller,
                                                          const v1::AccountsExistRequest& request);
  absl::StatusOr<v1::ListAccountsResponse> ListAccounts(const rpc::Caller& caller,
                                                        const v1::ListAccountsRequest& request);

 private:
  std::shared_ptr<v1::RelationshipService::StubInterface> profiles_;
  // The app (cached); 70020 when unknown.
  absl::StatusOr<std::shared_ptr<const AppRecord>> LoadApp(uint64_t sdkappid);
  // 60010 unless the caller is an admin of its app.
  absl::StatusOr<std::shared_ptr<const AppRecord>> RequireAdmin(const rpc::Caller& caller);
  // After a store change to an app: NOT_FOUND as 70020, else the fresh app
  // without its key.
  absl::StatusOr<v1::App> AfterAppChange(uint64_t sdkappid, const absl::Status& stored);
  absl::Status ValidateAdmins(const std::vector<std::string>& admin_ids) const;
  void ForgetApp(uint64_t sdkappid) { app_cache_.Erase(sdkappid); }

  AuthStore* store_;
  SessionStore* sessions_;
  Clock now_;
  AuthOptions options_;
  cache::TtlCache<uint64_t, std::shared_ptr<const AppRecord>> app_cache_{10000};
  // (sdkappid, identifier, usersig) -> the sig's expiry, for verified sigs.
  cache::TtlCache<std::string, int64_t> sig_cache_;
  // Accounts known to exist, so logins don't write for accounts that exist.
  cache::TtlCache<std::string, bool> known_accounts_{200000};
  // First logins' account imports, gathered so that a login storm of new
  // users costs one statement and one commit per batch, not per login.
  static constexpr size_t kMaxLoginImportsPerBatch = 1000;
  batching::Batcher<std::pair<uint64_t, std::string>, absl::Status> login_imports_;
};

class AuthGrpcService final : public v1::AuthService::Service {
 public:
  explicit AuthGrpcService(AuthLogic* logic) : logic_(logic) {}

  grpc::Status Authenticate(grpc::ServerContext*, const v1::AuthenticateRequest* request,
                            v1::AuthenticateResponse* response) override;
  grpc::Status CreateApp(grpc::ServerContext*, const v1::CreateAppRequest* request,
                         v1::App* response) override;
  grpc::Status GetApp(grpc::ServerContext*, const v1::GetAppRequest* request,
                      v1::App* response) override;
  grpc::Status ListApps(grpc::ServerContext*, const v1::ListAppsRequest* request,
                        v1::ListAppsResponse* response) override;
  grpc::Status SetAppLimits(grpc::ServerContext*, const v1::SetAppLimitsRequest* request,
                            v1::App* response) override;
  grpc::Status SetAppAdmins(grpc::ServerContext*, const v1::SetAppAdminsRequest* request,
                            v1::App* response) override;
  grpc::Status AccountImport(grpc::ServerContext* context, const v1::AccountImportRequest* request,
                             v1::AccountImportResponse* response) override;
  grpc::Status MultiAccountImport(grpc::ServerContext* context,
                                  const v1::MultiAccountImportRequest* request,
                                  v1::MultiAccountImportResponse* response) override;
  grpc::Status AccountDelete(grpc::ServerContext* context, const v1::AccountDeleteRequest* request,
                             v1::AccountDeleteResponse* response) override;
  grpc::Status AccountCheck(grpc::ServerContext* context, const v1::AccountCheckRequest* request,
                            v1::AccountCheckResponse* response) override;
  grpc::Status Kick(grpc::ServerContext* context, const v1::KickRequest* request,
                    v1::KickResponse* response) override;
  grpc::Status AccountsExist(grpc::ServerContext* context, const v1::AccountsExistRequest* request,
                             v1::AccountsExistResponse* response) override;
  grpc::Status ListAccounts(grpc::ServerContext* context, const v1::ListAccountsRequest* request,
                            v1::ListAccountsResponse* response) override;

 private:
  AuthLogic* logic_;
};

}  // namespace parley::auth
