#include <catch2/catch.hpp>
#include <thread>

#include "parley/pg/migrations.h"
#include "parley/pg/pool.h"
#include "support/process.h"
#include "support/test_cluster.h"

using namespace parley;

namespace {

// A database of its own, dropped at the end of the test.
struct ScratchDatabase {
  std::string name = "parley_scratch_" + std::to_string(testing::RandomSdkAppId());
  std::string admin_url = testing::RequireEnv("PARLEY_TEST_PG_ADMIN_URL");
  std::string url;
  ScratchDatabase() {
    pqxx::connection admin(admin_url);
    pqxx::nontransaction(admin).exec("CREATE DATABASE " + name);
    url = admin_url.substr(0, admin_url.rfind('/') + 1) + name;
  }
  ~ScratchDatabase() {
    pqxx::connection admin(admin_url);
    pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }
};

const std::vector<pg::Migration> kMigrations = {
    {1, "0001_a", "CREATE TABLE a (id INT PRIMARY KEY)"},
    {2, "0002_b", "ALTER TABLE a ADD COLUMN name TEXT NOT NULL DEFAULT ''"},
};

}  // namespace

TEST_CASE("migrations apply once, in order, even when replicas start together", "[pg]") {
  ScratchDatabase db;
  auto pool = pg::Pool::Create({db.url, 4});
  REQUIRE(pool.ok());
  std::vector<std::thread> replicas;
  std::vector<absl::Status> results(4);
  for (int i = 0; i < 4; ++i) {
    replicas.emplace_back([&, i] { results[i] = pg::ApplyMigrations(**pool, "svc", kMigrations); });
  }
  for (auto& t : replicas) t.join();
  for (const auto& st : results) CHECK(st.ok());
  REQUIRE(pg::ApplyMigrations(**pool, "svc", kMigrations).ok());
  auto count = (*pool)->Query<int>([](pqxx::connection& c) -> absl::StatusOr<int> {
    pqxx::work tx(c);
    return tx.exec("SELECT count(*) FROM parley_schema_migrations WHERE service = 'svc'")[0][0]
        .as<int>();
  });
  REQUIRE(count.ok());
  CHECK(*count == 2);

  SECTION("a failing migration applies nothing") {
    std::vector<pg::Migration> broken = kMigrations;
    broken.push_back({3, "0003_ok", "CREATE TABLE c (id INT)"});
    broken.push_back({4, "0004_bad", "THIS IS NOT SQL"});
    CHECK_FALSE(pg::ApplyMigrations(**pool, "svc", broken).ok());
    auto exists = (*pool)->Query<bool>([](pqxx::connection& c) -> absl::StatusOr<bool> {
      pqxx::work tx(c);
      return !tx.exec("SELECT 1 FROM pg_tables WHERE tablename = 'c'").empty();
    });
    CHECK_FALSE(*exists);
  }
}

TEST_CASE("libpqxx errors become statuses, and a killed connection recovers", "[pg]") {
  auto pool = pg::Pool::Create({testing::RequireEnv("PARLEY_TEST_PG_URL"), 1});
  REQUIRE(pool.ok());
  auto bad = (*pool)->Run([](pqxx::connection& c) {
    pqxx::work(c).exec("SELECT * FROM no_such_table");
    return absl::OkStatus();
  });
  CHECK(bad.code() == absl::StatusCode::kInternal);

  auto dup = (*pool)->Run([](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec("CREATE TEMP TABLE t (id INT PRIMARY KEY)");
    tx.exec("INSERT INTO t VALUES (1), (1)");
    return absl::OkStatus();
  });
  CHECK(dup.code() == absl::StatusCode::kAlreadyExists);

  // Kill our own backend: the call fails as UNAVAILABLE, the next one works.
  auto killed = (*pool)->Run([](pqxx::connection& c) {
    pqxx::nontransaction(c).exec("SELECT pg_terminate_backend(pg_backend_pid())");
    return absl::OkStatus();
  });
  CHECK(killed.code() == absl::StatusCode::kUnavailable);
  auto value = (*pool)->Query<int>([](pqxx::connection& c) -> absl::StatusOr<int> {
    return pqxx::work(c).exec("SELECT 41 + 1")[0][0].as<int>();
  });
  REQUIRE(value.ok());
  CHECK(*value == 42);
}

TEST_CASE("text arrays round-trip quotes, backslashes and commas", "[pg]") {
  auto pool = pg::Pool::Create({testing::RequireEnv("PARLEY_TEST_PG_URL"), 1});
  REQUIRE(pool.ok());
  std::vector<std::string> values = {"plain", "with \"quote\"", "back\\slash", "a,b",  "{}",
                                     "",      "\\\"\\",        "ends\\",      "NULL"};
  auto out = (*pool)->Query<std::vector<std::string>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<std::string>> {
        pqxx::work tx(c);
        std::vector<std::string> rows;
        for (const auto& row :
             tx.exec_params("SELECT unnest($1::text[])", pg::TextArray(values))) {
          rows.push_back(row[0].as<std::string>());
        }
        return rows;
      });
  REQUIRE(out.ok());
  CHECK(*out == values);
}

TEST_CASE("pool connections run generic plans unless told not to, after a reconnect too",
          "[pg]") {
  auto plan_mode = [](pg::Pool& pool) {
    return pool.Query<std::string>([](pqxx::connection& c) -> absl::StatusOr<std::string> {
      return pqxx::nontransaction(c).exec("SELECT current_setting('plan_cache_mode')")[0][0]
          .as<std::string>();
    });
  };
  auto pool = pg::Pool::Create({testing::RequireEnv("PARLEY_TEST_PG_URL"), 1});
  REQUIRE(pool.ok());
  CHECK(*plan_mode(**pool) == "force_generic_plan");
  auto killed = (*pool)->Run([](pqxx::connection& c) {
    pqxx::nontransaction(c).exec("SELECT pg_terminate_backend(pg_backend_pid())");
    return absl::OkStatus();
  });
  CHECK(killed.code() == absl::StatusCode::kUnavailable);
  CHECK(*plan_mode(**pool) == "force_generic_plan");

  pg::PoolOptions custom{testing::RequireEnv("PARLEY_TEST_PG_URL"), 1};
  custom.generic_plans = false;
  auto planner_default = pg::Pool::Create(custom);
  REQUIRE(planner_default.ok());
  CHECK(*plan_mode(**planner_default) == "auto");
}
