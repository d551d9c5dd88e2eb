// AuthLogic on real PostgreSQL and Redis, constructed directly with a fake clock.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "auth_service.h"
#include "parley/errors/errors.h"
#include "parley/pg/migrations.h"
#include "parley/usersig/usersig.h"
#include "support/process.h"
#include "support/test_cluster.h"

namespace parley::pg {
const std::vector<Migration>& auth_migrations();
}

using namespace parley;

namespace {

struct Fixture {
  std::unique_ptr<pg::Pool> pg;
  std::unique_ptr<redis::Pool> redis;
  std::unique_ptr<auth::AuthStore> store;
  std::unique_ptr<auth::SessionStore> sessions;
  int64_t now = 1700000000;
  std::unique_ptr<auth::AuthLogic> logic;
  uint64_t sdkappid = testing::RandomSdkAppId();
  std::string key = testing::RandomKey();
  rpc::Caller admin{sdkappid, "administrator"};

  Fixture() {
    auto pool = pg::Pool::Create({testing::RequireEnv("PARLEY_TEST_PG_URL"), 2});
    REQUIRE(pool.ok());
    pg = std::move(*pool);
    REQUIRE(pg::ApplyMigrations(*pg, "auth", pg::auth_migrations()).ok());
    auto options = redis::Pool::ParseAddress(testing::RequireEnv("PARLEY_TEST_REDIS_ADDR"));
    auto rpool = redis::Pool::Create(*options);
    REQUIRE(rpool.ok());
    redis = std::move(*rpool);
    store = std::make_unique<auth::AuthStore>(pg.get());
    sessions = std::make_unique<auth::SessionStore>(redis.get());
    logic = std::make_unique<auth::AuthLogic>(store.get(), sessions.get(), [this] { return now; });
    REQUIRE(logic->EnsureBootstrapApp(sdkappid, key, "administrator").ok());
  }

  int32_t Code(const absl::Status& st) { return errors::TencentCode(st, -1); }

  absl::Status Authenticate(const std::string& identifier, const std::string& sig,
                            bool require_admin = true, uint64_t app = 0) {
    v1::AuthenticateRequest request;
    request.set_sdkappid(app ? app : sdkappid);
    request.set_identifier(identifier);
    request.set_usersig(sig);
    request.set_require_admin(require_admin);
    return logic->Authenticate(request).status();
  }

  v1::AccountCheckResponse Check(const std::vector<std::string>& ids) {
    v1::AccountCheckRequest request;
    for (const auto& id : ids) request.add_check_item()->set_user_id(id);
    auto response = logic->AccountCheck(admin, request);
    REQUIRE(response.ok());
    return *response;
  }
};

}  // namespace

TEST_CASE("authenticate: admin sigs pass - each failure has its code", "[auth]") {
  Fixture f;
  std::string admin_sig = usersig::Generate(f.key, f.sdkappid, "administrator", f.now);
  CHECK(f.Authenticate("administrator", admin_sig).ok());
  std::string user_sig = usersig::Generate(f.key, f.sdkappid, "alice", f.now);
  CHECK(f.Authenticate("alice", user_sig, /*require_admin=*/false).ok());
  CHECK(f.Code(f.Authenticate("alice", user_sig)) == errors::kRequiresAdmin);
  CHECK(f.Code(f.Authenticate("administrator", "")) == errors::kSigEmpty);
  CHECK(f.Code(f.Authenticate("administrator", "garbage")) == errors::kSigInvalid);
  CHECK(f.Code(f.Authenticate("bob", admin_sig)) == errors::kSigIdentifierMismatch);
  CHECK(f.Code(f.Authenticate("administrator", admin_sig, true, testing::RandomSdkAppId())) ==
        errors::kSdkAppIdNotFound);
  std::string forged = usersig::Generate(f.key + "x", f.sdkappid, "administrator", f.now);
  CHECK(f.Code(f.Authenticate("administrator", forged)) == errors::kSigHmacMismatch);
  usersig::GenerateOptions short_lived;
  short_lived.expire = 100;
  std::string expiring = usersig::Generate(f.key, f.sdkappid, "administrator", f.now, short_lived);
  CHECK(f.Authenticate("administrator", expiring).ok());  // now cached
  f.now += 101;
  // The cache never outlives the sig itself.
  CHECK(f.Code(f.Authenticate("administrator", expiring)) == errors::kSigExpired);
}

TEST_CASE("apps: create, admins capped at five, bootstrap updates the key", "[auth]") {
  Fixture f;
  v1::CreateAppRequest create;
  create.add_admin_ids("ops");
  auto app = f.logic->CreateApp(create);
  REQUIRE(app.ok());
  CHECK(app->sdkappid() >= 1600000000ULL);
  CHECK(app->secret_key().size() == 64);
  CHECK(app->admin_ids_size() == 1);

  v1::CreateAppRequest same;
  same.set_sdkappid(app->sdkappid());
  CHECK(f.logic->CreateApp(same).status().code() == absl::StatusCode::kAlreadyExists);

  v1::SetAppAdminsRequest six;
  six.set_sdkappid(app->sdkappid());
  for (int i = 0; i < 6; ++i) six.add_admin_ids("admin" + std::to_string(i));
  CHECK(f.logic->SetAppAdmins(six).status().code() == absl::StatusCode::kInvalidArgument);
  six.mutable_admin_ids()->RemoveLast();
  auto five = f.logic->SetAppAdmins(six);
  REQUIRE(five.ok());
  CHECK(five->admin_ids_size() == 5);

  // Re-bootstrapping with a new key takes effect (cached app dropped).
  std::string new_key = testing::RandomKey();
  REQUIRE(f.logic->EnsureBootstrapApp(f.sdkappid, new_key, "administrator").ok());
  CHECK(f.Authenticate("administrator",
                       usersig::Generate(new_key, f.sdkappid, "administrator", f.now))
            .ok());
}

TEST_CASE("accounts: import, check, delete with per-item results", "[auth]") {
  Fixture f;
  v1::AccountImportRequest one;
  one.set_user_id("alice");
  one.set_nick("Alice");
  REQUIRE(f.logic->AccountImport(f.admin, one).ok());
  one.set_nick("");  // re-import keeps the nick
  REQUIRE(f.logic->AccountImport(f.admin, one).ok());

  v1::AccountImportRequest legacy;
  legacy.set_identifier("carol");  // legacy field name
  REQUIRE(f.logic->AccountImport(f.admin, legacy).ok());

  v1::MultiAccountImportRequest many;
  for (const std::string& id : {std::string("bob"), std::string("dave"), std::string(33, 'x'),
                                std::string("bob")}) {
    many.add_accounts(id);
  }
  auto imported = f.logic->MultiAccountImport(f.admin, many);
  REQUIRE(imported.ok());
  REQUIRE(imported->fail_accounts_size() == 1);
  CHECK(imported->fail_accounts(0) == std::string(33, 'x'));

  auto check = f.Check({"alice", "bob", "carol", "dave", "nobody"});
  std::vector<std::string> statuses;
  for (const auto& r : check.result_item()) statuses.push_back(r.account_status());
  CHECK(statuses ==
        std::vector<std::string>{"Imported", "Imported", "Imported", "Imported", "NotImported"});

  // A login session in Redis goes away with the account.
  REQUIRE(f.redis->Command({"HSET", presence::SessionsKey(f.sdkappid, "alice"), "dev1", "{}"}).ok());
  v1::AccountDeleteRequest del;
  for (auto id : {"alice", "nobody", "administrator"}) del.add_delete_item()->set_user_id(id);
  auto deleted = f.logic->AccountDelete(f.admin, del);
  REQUIRE(deleted.ok());
  REQUIRE(deleted->result_item_size() == 3);
  CHECK(deleted->result_item(0).result_code() == 0);
  CHECK(deleted->result_item(1).result_code() == errors::kAccountNotImported);
  CHECK(deleted->result_item(2).result_code() == errors::kAccountInvalidParam);
  CHECK(*f.sessions->CountSessions(f.sdkappid, "alice") == 0);
  CHECK(f.Check({"alice"}).result_item(0).account_status() == "NotImported");
  CHECK(f.Check({"administrator"}).result_item(0).account_status() == "Imported");
}

TEST_CASE("first logins import their accounts, many at once", "[auth]") {
  Fixture f;
  auto login = [&](const std::string& id) {
    v1::AuthenticateRequest request;
    request.set_sdkappid(f.sdkappid);
    request.set_identifier(id);
    request.set_usersig(usersig::Generate(f.key, f.sdkappid, id, f.now));
    request.set_import_account(true);
    return f.logic->Authenticate(request).status();
  };
  // Logins from many threads at once: their imports are gathered into
  // shared statements, and each login still sees its own outcome.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (!login("user" + std::to_string(t * 25 + i)).ok()) ++failures;
        if (!login("shared").ok()) ++failures;  // the same new user on many devices
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures == 0);
  std::vector<std::string> ids = {"shared", "user0", "user199", "user200"};
  auto check = f.Check(ids);
  std::vector<std::string> statuses;
  for (const auto& r : check.result_item()) statuses.push_back(r.account_status());
  CHECK(statuses == std::vector<std::string>{"Imported", "Imported", "Imported", "NotImported"});

  // An id an account can't have is refused, and nothing is written.
  std::string too_long(33, 'x');
  CHECK(f.Code(login(too_long)) == errors::kAccountInvalidParam);
  auto stored = f.pg->Query<int64_t>([&](pqxx::connection& c) -> absl::StatusOr<int64_t> {
    pqxx::nontransaction tx(c);
    return tx.exec_params1("SELECT count(*) FROM accounts WHERE sdkappid = $1 AND user_id = $2",
                           f.sdkappid, too_long)[0]
        .as<int64_t>();
  });
  REQUIRE(stored.ok());
  CHECK(*stored == 0);
}

TEST_CASE("accounts: bad input changes nothing", "[auth]") {
  Fixture f;
  v1::AccountImportRequest empty;
  CHECK(f.Code(f.logic->AccountImport(f.admin, empty).status()) == errors::kAccountInvalidParam);
  v1::AccountImportRequest control;
  control.set_user_id("a\nb");
  CHECK(f.Code(f.logic->AccountImport(f.admin, control).status()) == errors::kAccountInvalidParam);

  v1::MultiAccountImportRequest too_many;
  for (int i = 0; i < 101; ++i) too_many.add_accounts("u" + std::to_string(i));
  CHECK(f.Code(f.logic->MultiAccountImport(f.admin, too_many).status()) ==
        errors::kAccountInvalidParam);
  CHECK(f.Check({"u0"}).result_item(0).account_status() == "NotImported");

  // Someone who is not an admin of this app can do nothing.
  rpc::Caller stranger{f.sdkappid, "alice"};
  v1::AccountImportRequest ok;
  ok.set_user_id("zed");
  CHECK(f.Code(f.logic->AccountImport(stranger, ok).status()) == errors::kRequiresAdmin);
  rpc::Caller other_app{testing::RandomSdkAppId(), "administrator"};
  CHECK(f.Code(f.logic->AccountImport(other_app, ok).status()) == errors::kSdkAppIdNotFound);
  CHECK(f.Check({"zed"}).result_item(0).account_status() == "NotImported");
}
