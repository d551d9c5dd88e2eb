// A fixed-size pool of PostgreSQL connections on libpqxx.
//
// Run() lends a connection to a function and turns every libpqxx exception
// into a Status, so no exception leaves the storage layer:
//   broken connection -> UNAVAILABLE (the connection is reopened next time),
//   unique violation  -> ALREADY_EXISTS, other SQL errors -> INTERNAL.
// Thread-safe. Borrowers wait up to acquire_timeout for a free connection.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace parley::pg {

struct PoolOptions {
  std::string url;  // libpq URL, e.g. postgresql://parley@127.0.0.1:15432/parley
  int size = 4;
  std::chrono::milliseconds acquire_timeout{3000};
  // Runs every prepared statement with its generic plan (plan_cache_mode).
  // Left to itself, PostgreSQL may re-plan a statement at each execution when
  // its array parameters make the generic plan look costlier; for the message
  // batch write that is about 0.5 ms per commit, a third of the database's
  // work for a one-message commit (bench/store_bench.sh 1). Parley's
  // statements narrow by equality on leading key columns (app, user), so the
  // generic plan uses the same index (EXPLAIN checked for message history,
  // the unread recount and the send batch on an 11.8M-row timeline).
  bool generic_plans = true;
};

class Pool {
 public:
  // Opens every connection; fails if the first cannot be opened.
  static absl::StatusOr<std::unique_ptr<Pool>> Create(PoolOptions options);

  absl::Status Run(const std::function<absl::Status(pqxx::connection&)>& fn);

  // Like Run(), for functions that produce a value.
  template <class T>
  absl::StatusOr<T> Query(const std::function<absl::StatusOr<T>(pqxx::connection&)>& fn) {
    absl::StatusOr<T> result = absl::InternalError("query did not run");
    absl::Status st = Run([&](pqxx::connection& c) {
      result = fn(c);
      return result.status();
    });
    if (!st.ok()) return st;
    return result;
  }

 private:
  explicit Pool(PoolOptions options) : options_(std::move(options)) {}
  std::unique_ptr<pqxx::connection> Acquire(absl::Status* status);
  void Release(std::unique_ptr<pqxx::connection> connection);

  PoolOptions options_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int lent_ ABSL_GUARDED_BY(mu_) = 0;
};

// Runs `sql` as the prepared statement `name` on the transaction's
// connection: for statements run at every commit of a hot path, so that
// parsing and planning are not repeated each time. libpqxx registers the
// definition on the connection and prepares it on first use (and again after
// a reconnect); a name must always stand for the same SQL.
template <class... Args>
pqxx::result ExecPrepared(pqxx::transaction_base& tx, const char* name, const char* sql,
                          Args&&... args) {
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

// A PostgreSQL array literal ({"a","b"}) for binding a list of strings as one
// parameter, cast in SQL as $1::text[].
std::string TextArray(const std::vector<std::string>& values);
// The strings of a text[] column (NULL elements and a NULL array: none).
std::vector<std::string> TextList(const pqxx::field& field);
// The same for integers ({1,2,3}), cast as $1::bigint[] or $1::int[].
std::string IntArray(const std::vector<int64_t>& values);
// The two columns of (integer, text) pairs, such as (sdkappid, user id), as
// an IntArray and a TextArray, for unnest($1::bigint[], $2::text[]).
std::pair<std::string, std::string> IntTextArrays(
    const std::vector<std::pair<uint64_t, std::string>>& pairs);

}  // namespace parley::pg
