#include "auth_service.h"

#include <openssl/rand.h>

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/rpc/client.h"
#include "parley/rpc/serve.h"
#include "parley/usersig/usersig.h"

namespace parley::auth {
namespace {

constexpr size_t kMaxUserIdBytes = 32;
constexpr size_t kMaxNickBytes = 500;
constexpr size_t kMaxFaceUrlBytes = 500;
// Verified sigs are re-checked at least this often, so a rotated key bites.
constexpr int64_t kSigCacheSeconds = 60;

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  return absl::BytesToHexString(raw);
}

v1::App ToProto(const AppRecord& app) {
  v1::App out;
  out.set_sdkappid(app.sdkappid);
  out.set_name(app.name);
  out.set_secret_key(app.secret_key);
  for (const auto& id : app.admin_ids) out.add_admin_ids(id);
  out.set_created_at(app.created_at);
  out.set_login_policy(app.login_policy);
  out.set_rest_calls_per_second(app.rest_calls_per_second);
  out.set_client_sends_per_second(app.client_sends_per_second);
  return out;
}

absl::Status InvalidParam(absl::string_view info) {
  return errors::Error(errors::kAccountInvalidParam, info);
}

// 70402 unless 1 <= count <= max.
absl::Status CheckBatchSize(size_t count, size_t max, absl::string_view field) {
  if (count == 0) return InvalidParam(absl::StrCat(field, " is empty"));
  if (count > max) return InvalidParam(absl::StrCat(field, " has more than ", max, " accounts"));
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateUserId(const std::string& user_id) {
  if (user_id.empty()) return InvalidParam("UserID is empty");
  if (user_id.size() > kMaxUserIdBytes) {
    return InvalidParam(absl::StrCat("UserID is longer than ", kMaxUserIdBytes, " bytes"));
  }
  for (unsigned char c : user_id) {
    if (c < 0x20 || c == 0x7f) return InvalidParam("UserID contains a control character");
  }
  return absl::OkStatus();
}

AuthLogic::AuthLogic(AuthStore* store, SessionStore* sessions, Clock now, AuthOptions options)
    : store_(store),
      sessions_(sessions),
      now_(std::move(now)),
      options_(options),
      sig_cache_(options.sig_cache_capacity),
      login_imports_(kMaxLoginImportsPerBatch,
                     [this](const std::vector<std::pair<uint64_t, std::string>>& accounts) {
                       return std::vector<absl::Status>(accounts.size(),
                                                        store_->ImportOnLogin(accounts));
                     }) {}

absl::StatusOr<std::shared_ptr<const AppRecord>> AuthLogic::LoadApp(uint64_t sdkappid) {
  int64_t now = now_();
  if (auto cached = app_cache_.Get(sdkappid, now)) {
    if (*cached == nullptr) return errors::Error(errors::kSdkAppIdNotFound, "SDKAppID not found");
    return *cached;
  }
  auto app = store_->GetApp(sdkappid);
  if (!app.ok()) return app.status();
  std::shared_ptr<const AppRecord> record;
  if (app->has_value()) record = std::make_shared<const AppRecord>(std::move(**app));
  // Unknown apps are cached too, so random SDKAppIDs can't hammer PostgreSQL.
  app_cache_.Put(sdkappid, record, now + options_.app_cache_seconds);
  if (record == nullptr) return errors::Error(errors::kSdkAppIdNotFound, "SDKAppID not found");
  return record;
}

absl::StatusOr<v1::AuthenticateResponse> AuthLogic::Authenticate(
    const v1::AuthenticateRequest& request) {
  if (request.sdkappid() == 0) return errors::Error(errors::kMissingSdkAppId, "sdkappid is missing");
  if (request.usersig().empty()) return errors::Error(errors::kSigEmpty, "usersig is empty");
  auto app = LoadApp(request.sdkappid());
  if (!app.ok()) return app.status();
  if ((*app)->secret_key.empty()) {
    return errors::Error(errors::kSigNoKey, "the app has no secret key");
  }
  int64_t now = now_();
  std::string cache_key =
      absl::StrCat(request.sdkappid(), "\n", request.identifier(), "\n", request.usersig());
  int64_t expires_at = 0;
  if (auto cached = sig_cache_.Get(cache_key, now)) {
    expires_at = *cached;
  } else {
    auto doc = usersig::Verify(request.usersig(), request.sdkappid(), request.identifier(),
                               (*app)->secret_key, now);
    if (!doc.ok()) return doc.status();
    expires_at = doc->expires_at();
    sig_cache_.Put(cache_key, expires_at, std::min(expires_at + 1, now + kSigCacheSeconds));
  }
  const auto& admins = (*app)->admin_ids;
  bool is_admin = std::binary_search(admins.begin(), admins.end(), request.identifier());
  if (request.require_admin() && !is_admin) {
    return errors::Error(errors::kRequiresAdmin, "identifier is not an app admin");
  }
  std::string account_key = absl::StrCat(request.sdkappid(), "\n", request.identifier());
  if (request.import_account() && !known_accounts_.Get(account_key, now)) {
    if (auto st = ValidateUserId(request.identifier()); !st.ok()) return st;
    absl::Status imported =
        login_imports_.Submit({{request.sdkappid(), request.identifier()}}).get().at(0);
    if (!imported.ok()) return imported;
    known_accounts_.Put(account_key, true, now + 60);
  }
  v1::AuthenticateResponse response;
  response.set_is_admin(is_admin);
  response.set_sig_expires_at(expires_at);
  response.set_login_policy((*app)->login_policy);
  response.set_rest_calls_per_second((*app)->rest_calls_per_second);
  response.set_client_sends_per_second((*app)->client_sends_per_second);
  return response;
}

absl::Status AuthLogic::ValidateAdmins(const std::vector<std::string>& admin_ids) const {
  if (admin_ids.empty()) return absl::InvalidArgumentError("an app needs at least one admin");
  if (admin_ids.size() > static_cast<size_t>(options_.max_admins)) {
    return absl::InvalidArgumentError(
        absl::StrCat("an app has at most ", options_.max_admins, " admin accounts"));
  }
  for (const auto& id : admin_ids) {
    if (auto st = ValidateUserId(id); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("admin '", id, "': ", st.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::App> AuthLogic::CreateApp(const v1::CreateAppRequest& request) {
  AppRecord app;
  app.name = request.name();
  if (!request.login_policy().empty()) app.login_policy = request.login_policy();
  if (app.login_policy != "platform_class" && app.login_policy != "multi") {
    return absl::InvalidArgumentError("login_policy is platform_class or multi");
  }
  app.secret_key = request.secret_key().empty() ? RandomHex(32) : request.secret_key();
  std::set<std::string> admins(request.admin_ids().begin(), request.admin_ids().end());
  if (admins.empty()) admins.insert("administrator");
  app.admin_ids.assign(admins.begin(), admins.end());
  if (auto st = ValidateAdmins(app.admin_ids); !st.ok()) return st;
  // Picked SDKAppIDs look like Tencent's (16xxxxxxxx); retry on collision.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (request.sdkappid() != 0) {
      app.sdkappid = request.sdkappid();
    } else {
      uint32_t random = 0;
      RAND_bytes(reinterpret_cast<unsigned char*>(&random), sizeof(random));
      app.sdkappid = 1600000000ULL + random % 100000000ULL;
    }
    absl::Status st = store_->CreateApp(app);
    if (st.ok()) {
      ForgetApp(app.sdkappid);
      log::Info("app_created", {{"sdkappid", app.sdkappid}, {"admins", app.admin_ids}});
      auto stored = store_->GetApp(app.sdkappid);
      if (!stored.ok()) return stored.status();
      return ToProto(**stored);
    }
    if (st.code() != absl::StatusCode::kAlreadyExists) return st;
    if (request.sdkappid() != 0) {
      return absl::AlreadyExistsError(absl::StrCat("app ", request.sdkappid(), " exists"));
    }
  }
  return absl::UnavailableError("could not find a free SDKAppID");
}

absl::StatusOr<v1::App> AuthLogic::GetApp(const v1::GetAppRequest& request) {
  auto app = store_->GetApp(request.sdkappid());
  if (!app.ok()) return app.status();
  if (!app->has_value()) return errors::Error(errors::kSdkAppIdNotFound, "SDKAppID not found");
  return ToProto(**app);
}

absl::StatusOr<v1::ListAppsResponse> AuthLogic::ListApps(const v1::ListAppsRequest&) {
  auto apps = store_->ListApps();
  if (!apps.ok()) return apps.status();
  v1::ListAppsResponse response;
  // Keys only ever go to an operator who asked for one app (GetApp).
  for (const auto& app : *apps) response.add_apps()->CopyFrom(ToProto(app));
  for (auto& app : *response.mutable_apps()) app.clear_secret_key();
  return response;
}

absl::StatusOr<v1::App> AuthLogic::SetAppLimits(const v1::SetAppLimitsRequest& request) {
  if (request.rest_calls_per_second() < 0 || request.client_sends_per_second() < 0) {
    return absl::InvalidArgumentError("limits are positive (0 keeps the current one)");
  }
  return AfterAppChange(request.sdkappid(),
                        store_->SetLimits(request.sdkappid(), request.rest_calls_per_second(),
                                          request.client_sends_per_second()));
}

absl::StatusOr<v1::App> AuthLogic::AfterAppChange(uint64_t sdkappid, const absl::Status& stored) {
  if (!stored.ok()) {
    if (stored.code() == absl::StatusCode::kNotFound) {
      return errors::Error(errors::kSdkAppIdNotFound, "SDKAppID not found");
    }
    return stored;
  }
  ForgetApp(sdkappid);
  v1::GetAppRequest get;
  get.set_sdkappid(sdkappid);
  auto app = GetApp(get);
  if (app.ok()) app->clear_secret_key();  // keys go only to GetApp and CreateApp
  return app;
}

absl::StatusOr<v1::App> AuthLogic::SetAppAdmins(const v1::SetAppAdminsRequest& request) {
  std::set<std::string> unique(request.admin_ids().begin(), request.admin_ids().end());
  std::vector<std::string> admins(unique.begin(), unique.end());
  if (auto st = ValidateAdmins(admins); !st.ok()) return st;
  return AfterAppChange(request.sdkappid(), store_->SetAdmins(request.sdkappid(), admins));
}

absl::Status AuthLogic::EnsureBootstrapApp(uint64_t sdkappid, const std::string& secret_key,
                                           const std::string& admin_id) {
  if (auto st = ValidateAdmins({admin_id}); !st.ok()) return st;
  AppRecord app;
  app.sdkappid = sdkappid;
  app.name = "bootstrap";
  app.secret_key = secret_key;
  if (auto st = store_->UpsertBootstrapApp(app, admin_id, options_.max_admins); !st.ok()) return st;
  ForgetApp(sdkappid);
  log::Info("bootstrap_app_ready", {{"sdkappid", sdkappid}, {"admin", admin_id}});
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const AppRecord>> AuthLogic::RequireAdmin(
    const rpc::Caller& caller) {
  auto app = LoadApp(caller.sdkappid);
  if (!app.ok()) return app.status();
  const auto& admins = (*app)->admin_ids;
  if (!std::binary_search(admins.begin(), admins.end(), caller.identifier)) {
    return errors::Error(errors::kRequiresAdmin, "identifier is not an app admin");
  }
  return app;
}

absl::StatusOr<v1::AccountImportResponse> AuthLogic::AccountImport(
    const rpc::Caller& caller, const v1::AccountImportRequest& request) {
  if (auto app = RequireAdmin(caller); !app.ok()) return app.status();
  AccountRecord account{request.user_id().empty() ? request.identifier() : request.user_id(),
                        request.nick(), request.face_url()};
  if (auto st = ValidateUserId(account.user_id); !st.ok()) return st;
  if (account.nick.size() > kMaxNickBytes) return InvalidParam("Nick is too long");
  if (account.face_url.size() > kMaxFaceUrlBytes) return InvalidParam("FaceUrl is too long");
  if (auto st = store_->ImportAccounts(caller.sdkappid, {account}); !st.ok()) return st;
  if (profiles_ && (!account.nick.empty() || !account.face_url.empty())) {
    v1::PortraitSetRequest profile;
    profile.set_from_account(account.user_id);
    auto add = [&](const char* tag, const std::string& value) {
      if (value.empty()) return;
      auto* item = profile.add_profile_item();
      item->set_tag(tag);
      item->mutable_value()->set_string_value(value);
    };
    add("Tag_Profile_IM_Nick", account.nick);
    add("Tag_Profile_IM_Image", account.face_url);
    // Auth acts as itself (a service), keeping the admin's name for callbacks.
    rpc::Caller as_service = caller;
    as_service.is_service = as_service.is_admin = true;
    auto context = rpc::NewContext(&as_service);
    v1::Empty ignored;
    grpc::Status status = profiles_->PortraitSet(context.get(), profile, &ignored);
    if (!status.ok()) {
      log::Error("import_profile_failed", {{"sdkappid", caller.sdkappid},
                                           {"error", status.error_message()}});
      return errors::Error(70500, "the account's profile could not be stored; import again");
    }
  }
  return v1::AccountImportResponse();
}

absl::StatusOr<v1::MultiAccountImportResponse> AuthLogic::MultiAccountImport(
    const rpc::Caller& caller, const v1::MultiAccountImportRequest& request) {
  if (auto app = RequireAdmin(caller); !app.ok()) return app.status();
  if (auto st = CheckBatchSize(request.accounts_size(), options_.max_batch, "Accounts"); !st.ok()) {
    return st;
  }
  v1::MultiAccountImportResponse response;
  std::vector<AccountRecord> valid;
  for (const auto& id : request.accounts()) {
    if (ValidateUserId(id).ok()) {
      valid.push_back({id, "", ""});
    } else {
      response.add_fail_accounts(id);
    }
  }
  if (!valid.empty()) {
    if (auto st = store_->ImportAccounts(caller.sdkappid, valid); !st.ok()) return st;
  }
  return response;
}

absl::StatusOr<v1::AccountDeleteResponse> AuthLogic::AccountDelete(
    const rpc::Caller& caller, const v1::AccountDeleteRequest& request) {
  auto app = RequireAdmin(caller);
  if (!app.ok()) return app.status();
  if (auto st = CheckBatchSize(request.delete_item_size(), options_.max_batch, "DeleteItem");
      !st.ok()) {
    return st;
  }
  const auto& admins = (*app)->admin_ids;
  v1::AccountDeleteResponse response;
  std::vector<std::string> deletable;
  std::vector<v1::AccountDeleteResult*> pending;  // results decided after the delete
  for (const auto& item : request.delete_item()) {
    auto* result = response.add_result_item();
    result->set_user_id(item.user_id());
    if (auto st = ValidateUserId(item.user_id()); !st.ok()) {
      result->set_result_code(errors::kAccountInvalidParam);
      result->set_result_info(std::string(st.message()));
      continue;
    }
    if (std::binary_search(admins.begin(), admins.end(), item.user_id())) {
      result->set_result_code(errors::kAccountInvalidParam);
      result->set_result_info("an app admin account cannot be deleted");
      continue;
    }
    // Login state goes first: a failure here leaves the account in place.
    if (auto st = sessions_->RemoveUser(caller.sdkappid, item.user_id(), "account_deleted");
        !st.ok()) {
      log::Error("session_remove_failed", {{"sdkappid", caller.sdkappid},
                                           {"user", item.user_id()},
                                           {"error", std::string(st.message())}});
      result->set_result_code(errors::kAccountInternal);
      result->set_result_info("login state could not be removed; retry");
      continue;
    }
    deletable.push_back(item.user_id());
    known_accounts_.Erase(absl::StrCat(caller.sdkappid, "\n", item.user_id()));
    pending.push_back(result);
  }
  if (!deletable.empty() && profiles_) {
    // Relationships and profiles go before the account, so a failure leaves
    // nothing half-deleted: the backend retries the whole delete.
    v1::ForgetUsersRequest forget;
    for (const auto& user : deletable) forget.add_user_ids(user);
    rpc::Caller as_service = caller;
    as_service.is_service = as_service.is_admin = true;
    auto context = rpc::NewContext(&as_service);
    v1::Empty ignored;
    grpc::Status status = profiles_->ForgetUsers(context.get(), forget, &ignored);
    if (!status.ok()) {
      log::Error("forget_relationships_failed", {{"sdkappid", caller.sdkappid},
                                                 {"error", status.error_message()}});
      for (auto* result : pending) {
        result->set_result_code(errors::kAccountInternal);
        result->set_result_info("relationships could not be removed; retry");
      }
      return response;
    }
  }
  if (!deletable.empty()) {
    auto deleted = store_->DeleteAccounts(caller.sdkappid, deletable);
    if (!deleted.ok()) return deleted.status();
    for (auto* result : pending) {
      if (!deleted->count(result->user_id())) {
        result->set_result_code(errors::kAccountNotImported);
        result->set_result_info("account not imported");
      }
    }
    log::Info("accounts_deleted", {{"sdkappid", caller.sdkappid}, {"count", deleted->size()}});
  }
  return response;
}

absl::StatusOr<v1::AccountCheckResponse> AuthLogic::AccountCheck(
    const rpc::Caller& caller, const v1::AccountCheckRequest& request) {
  if (auto app = RequireAdmin(caller); !app.ok()) return app.status();
  if (auto st = CheckBatchSize(request.check_item_size(), options_.max_batch, "CheckItem");
      !st.ok()) {
    return st;
  }
  std::vector<std::string> ids;
  for (const auto& item : request.check_item()) ids.push_back(item.user_id());
  auto existing = store_->ExistingAccounts(caller.sdkappid, ids);
  if (!existing.ok()) return existing.status();
  v1::AccountCheckResponse response;
  for (const auto& item : request.check_item()) {
    auto* result = response.add_result_item();
    result->set_user_id(item.user_id());
    if (auto st = ValidateUserId(item.user_id()); !st.ok()) {
      result->set_result_code(errors::kAccountInvalidParam);
      result->set_result_info(std::string(st.message()));
      continue;
    }
    result->set_account_status(existing->count(item.user_id()) ? "Imported" : "NotImported");
  }
  return response;
}

absl::StatusOr<v1::KickResponse> AuthLogic::Kick(const rpc::Caller& caller,
                                                 const v1::KickRequest& request) {
  if (auto app = RequireAdmin(caller); !app.ok()) return app.status();
  std::string user_id = request.user_id().empty() ? request.identifier() : request.user_id();
  if (auto st = ValidateUserId(user_id); !st.ok()) return st;
  if (auto st = sessions_->RemoveUser(caller.sdkappid, user_id, "admin_kick"); !st.ok()) return st;
  log::Info("user_kicked", {{"sdkappid", caller.sdkappid}, {"user", user_id}});
  return v1::KickResponse();
}

absl::StatusOr<v1::AccountsExistResponse> AuthLogic::AccountsExist(
    const rpc::Caller& caller, const v1::AccountsExistRequest& request) {
  if (!caller.is_service) return errors::Error(errors::kRequiresAdmin, "internal callers only");
  std::vector<std::string> ids(request.user_ids().begin(), request.user_ids().end());
  auto existing = store_->ExistingAccounts(caller.sdkappid, ids);
  if (!existing.ok()) return existing.status();
  v1::AccountsExistResponse response;
  for (const auto& id : *existing) response.add_existing(id);
  return response;
}

absl::StatusOr<v1::ListAccountsResponse> AuthLogic::ListAccounts(
    const rpc::Caller& caller, const v1::ListAccountsRequest& request) {
  if (!caller.is_service) return errors::Error(errors::kRequiresAdmin, "internal callers only");
  uint32_t limit = std::clamp<uint32_t>(request.limit(), 1, 1000);
  auto page = store_->AccountsAfter(caller.sdkappid, request.after(), limit);
  if (!page.ok()) return page.status();
  v1::ListAccountsResponse response;
  for (const auto& id : *page) response.add_user_ids(id);
  if (page->size() == limit) response.set_next(page->back());
  return response;
}

// --- gRPC adapter -----------------------------------------------------------

grpc::Status AuthGrpcService::Authenticate(grpc::ServerContext*,
                                           const v1::AuthenticateRequest* request,
                                           v1::AuthenticateResponse* response) {
  return rpc::Serve(request, response, [&](const auto& r) { return logic_->Authenticate(r); });
}

grpc::Status AuthGrpcService::CreateApp(grpc::ServerContext*, const v1::CreateAppRequest* request,
                                        v1::App* response) {
  return rpc::Serve(request, response, [&](const auto& r) { return logic_->CreateApp(r); });
}

grpc::Status AuthGrpcService::GetApp(grpc::ServerContext*, const v1::GetAppRequest* request,
                                     v1::App* response) {
  return rpc::Serve(request, response, [&](const auto& r) { return logic_->GetApp(r); });
}

grpc::Status AuthGrpcService::ListApps(grpc::ServerContext*, const v1::ListAppsRequest* request,
                                       v1::ListAppsResponse* response) {
  return rpc::Serve(request, response, [&](const auto& r) { return logic_->ListApps(r); });
}

grpc::Status AuthGrpcService::SetAppLimits(grpc::ServerContext*,
                                           const v1::SetAppLimitsRequest* request,
                                           v1::App* response) {
  return rpc::Serve(request, response, [&](const auto& r) { return logic_->SetAppLimits(r); });
}

grpc::Status AuthGrpcService::SetAppAdmins(grpc::ServerContext*,
                                           const v1::SetAppAdminsRequest* request,
                                           v1::App* response) {
  return rpc::Serve(request, response, [&](const auto& r) { return logic_->SetAppAdmins(r); });
}

grpc::Status AuthGrpcService::AccountImport(grpc::ServerContext* context,
                                            const v1::AccountImportRequest* request,
                                            v1::AccountImportResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->AccountImport(c, r);
  });
}

grpc::Status AuthGrpcService::MultiAccountImport(grpc::ServerContext* context,
                                                 const v1::MultiAccountImportRequest* request,
                                                 v1::MultiAccountImportResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->MultiAccountImport(c, r);
  });
}

grpc::Status AuthGrpcService::AccountDelete(grpc::ServerContext* context,
                                            const v1::AccountDeleteRequest* request,
                                            v1::AccountDeleteResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->AccountDelete(c, r);
  });
}

grpc::Status AuthGrpcService::AccountCheck(grpc::ServerContext* context,
                                           const v1::AccountCheckRequest* request,
                                           v1::AccountCheckResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->AccountCheck(c, r);
  });
}

}  // namespace parley::auth

namespace parley::auth {

grpc::Status AuthGrpcService::Kick(grpc::ServerContext* context, const v1::KickRequest* request,
                                   v1::KickResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->Kick(c, r);
  });
}

grpc::Status AuthGrpcService::ListAccounts(grpc::ServerContext* context,
                                           const v1::ListAccountsRequest* request,
                                           v1::ListAccountsResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->ListAccounts(c, r);
  });
}

grpc::Status AuthGrpcService::AccountsExist(grpc::ServerContext* context,
                                            const v1::AccountsExistRequest* request,
                                            v1::AccountsExistResponse* response) {
  return rpc::ServeAsCaller(context, request, response, [&](const auto& c, const auto& r) {
    return logic_->AccountsExist(c, r);
  });
}

}  // namespace parley::auth
