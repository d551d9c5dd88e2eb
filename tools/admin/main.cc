// parley-admin: operator CLI.
//
//   parley-admin usersig --sdkappid N --identifier ID [--expire S]   (key from --secret-key
//                                                                      or PARLEY_SECRET_KEY)
//   parley-admin verify  --sdkappid N --identifier ID --usersig SIG
//   parley-admin app list | show --sdkappid N [--show-key] | create [--sdkappid N]
//                [--name X] [--admin ID]   (talks to parley-auth at PARLEY_AUTH_TARGET
//                with the operator certificate in PARLEY_TLS_DIR: operator.crt/.key)
#include <chrono>
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "parley/config/config.h"
#include "parley/errors/errors.h"
#include "parley/rpc/client.h"
#include "parley/rpc/tls.h"
#include "parley/usersig/usersig.h"
#include "parley/v1/auth.grpc.pb.h"

namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void PrintApp(const parley::v1::App& app, bool show_key) {
  std::cout << "sdkappid:   " << app.sdkappid() << "\n"
            << "name:       " << app.name() << "\n"
            << "admins:     " << absl::StrJoin(app.admin_ids(), ", ") << "\n"
            << "secret_key: " << (show_key ? app.secret_key() : "(hidden; --show-key)") << "\n";
}

int Fail(const grpc::Status& status) {
  auto st = parley::errors::FromGrpc(status);
  std::cerr << "error " << parley::errors::TencentCode(st, 0) << ": " << st.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t sdkappid = 0;
  std::string identifier;
  std::string secret_key;
  std::string usersig;
  int64_t expire = 180 * 86400;
  std::string auth_target = "127.0.0.1:7051";
  std::string name;
  std::string admins;
  bool show_key = false;
  std::string tls_dir;

  parley::config::Config config("parley-admin",
                                "usersig | verify | app list | app show | app create");
  config.Add("sdkappid", "PARLEY_SDKAPPID", &sdkappid, "the app");
  config.Add("identifier", "PARLEY_ADMIN_ID", &identifier, "UserID to sign for");
  config.Add("secret-key", "PARLEY_SECRET_KEY", &secret_key, "the app's secret key");
  config.Add("usersig", "PARLEY_USERSIG", &usersig, "UserSig to verify");
  config.Add("expire", "PARLEY_USERSIG_EXPIRE", &expire, "validity in seconds");
  config.Add("auth-target", "PARLEY_AUTH_TARGET", &auth_target, "auth service address");
  config.Add("name", "PARLEY_APP_NAME", &name, "name of a new app");
  config.Add("admin", "PARLEY_APP_ADMINS", &admins, "comma-separated admins of a new app");
  config.Add("show-key", "PARLEY_SHOW_KEY", &show_key, "print secret keys");
  config.Add("tls-dir", "PARLEY_TLS_DIR", &tls_dir,
             "directory of ca.crt and operator.crt/.key (app commands)");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  const auto& args = config.positional();
  if (args.empty()) {
    std::cerr << config.Usage();
    return 2;
  }

  if (args[0] == "usersig" || args[0] == "verify") {
    if (sdkappid <= 0 || identifier.empty() || secret_key.empty()) {
      std::cerr << "usersig/verify need --sdkappid, --identifier and --secret-key\n";
      return 2;
    }
    if (args[0] == "usersig") {
      parley::usersig::GenerateOptions options;
      options.expire = expire;
      std::cout << parley::usersig::Generate(secret_key, sdkappid, identifier, Now(), options)
                << "\n";
      return 0;
    }
    auto doc = parley::usersig::Verify(usersig, sdkappid, identifier, secret_key, Now());
    if (!doc.ok()) {
      std::cerr << "invalid (" << parley::errors::TencentCode(doc.status(), 0)
                << "): " << doc.status().message() << "\n";
      return 1;
    }
    std::cout << "valid until " << doc->expires_at() << "\n";
    return 0;
  }

  if (args[0] == "app" && args.size() >= 2) {
    if (auto st = parley::rpc::InitTls({tls_dir, "operator"}); !st.ok()) {
      std::cerr << st.message() << "\n";
      return 2;
    }
    auto stub =
        parley::v1::AuthService::NewStub(parley::rpc::MakeChannel(auth_target, "auth"));
    if (args[1] == "list") {
      parley::v1::ListAppsResponse response;
      auto status = stub->ListApps(parley::rpc::NewContext().get(), {}, &response);
      if (!status.ok()) return Fail(status);
      for (const auto& app : response.apps()) {
        std::cout << app.sdkappid() << "\t" << app.name() << "\t"
                  << absl::StrJoin(app.admin_ids(), ",") << "\n";
      }
      return 0;
    }
    if (args[1] == "show") {
      parley::v1::GetAppRequest request;
      request.set_sdkappid(sdkappid);
      parley::v1::App app;
      auto status = stub->GetApp(parley::rpc::NewContext().get(), request, &app);
      if (!status.ok()) return Fail(status);
      PrintApp(app, show_key);
      return 0;
    }
    if (args[1] == "create") {
      parley::v1::CreateAppRequest request;
      request.set_sdkappid(sdkappid);
      request.set_name(name);
      for (auto id : absl::StrSplit(admins, ',', absl::SkipEmpty())) {
        request.add_admin_ids(std::string(id));
      }
      parley::v1::App app;
      auto status = stub->CreateApp(parley::rpc::NewContext().get(), request, &app);
      if (!status.ok()) return Fail(status);
      PrintApp(app, /*show_key=*/true);  // the one time the operator needs it
      return 0;
    }
  }
  std::cerr << "unknown command\n\n" << config.Usage();
  return 2;
}
