#include "parley/pg/pool.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "parley/log/log.h"

namespace parley::pg {
namespace {

absl::StatusOr<std::unique_ptr<pqxx::connection>> Open(const PoolOptions& options) {
  try {
    auto connection = std::make_unique<pqxx::connection>(options.url);
    // set_variable: libpqxx sets it again if it ever reactivates the connection.
    if (options.generic_plans) connection->set_variable("plan_cache_mode", "force_generic_plan");
    return connection;
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Pool>> Pool::Create(PoolOptions options) {
  std::unique_ptr<Pool> pool(new Pool(std::move(options)));
  absl::MutexLock lock(&pool->mu_);
  for (int i = 0; i < std::max(1, pool->options_.size); ++i) {
    auto connection = Open(pool->options_);
    if (!connection.ok()) return connection.status();
    pool->idle_.push_back(std::move(*connection));
  }
  return pool;
}

std::unique_ptr<pqxx::connection> Pool::Acquire(absl::Status* status) {
  absl::MutexLock lock(&mu_);
  auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !idle_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&available),
                            absl::FromChrono(options_.acquire_timeout))) {
    *status = absl::UnavailableError("no free PostgreSQL connection");
    return nullptr;
  }
  auto connection = std::move(idle_.back());
  idle_.pop_back();
  ++lent_;
  return connection;
}

void Pool::Release(std::unique_ptr<pqxx::connection> connection) {
  absl::MutexLock lock(&mu_);
  --lent_;
  idle_.push_back(std::move(connection));
}

absl::Status Pool::Run(const std::function<absl::Status(pqxx::connection&)>& fn) {
  absl::Status status;
  auto connection = Acquire(&status);
  if (!connection) return status;
  if (!connection->is_open()) {
    auto reopened = Open(options_);
    if (!reopened.ok()) {
      Release(std::move(connection));
      return reopened.status();
    }
    connection = std::move(*reopened);
  }
  try {
    status = fn(*connection);
  } catch (const pqxx::broken_connection& e) {
    status = absl::UnavailableError(absl::StrCat("PostgreSQL connection lost: ", e.what()));
    // Replace it now so the next borrower gets a working connection.
    if (auto reopened = Open(options_); reopened.ok()) connection = std::move(*reopened);
  } catch (const pqxx::unique_violation& e) {
    status = absl::AlreadyExistsError(e.what());
  } catch (const std::exception& e) {
    log::Error("pg_error", {{"what", e.what()}});
    status = absl::InternalError(absl::StrCat("PostgreSQL error: ", e.what()));
  }
  Release(std::move(connection));
  return status;
}

std::vector<std::string> TextList(const pqxx::field& field) {
  std::vector<std::string> out;
  if (field.is_null()) return out;
  auto parser = field.as_array();
  for (auto item = parser.get_next(); item.first != pqxx::array_parser::juncture::done;
       item = parser.get_next()) {
    if (item.first == pqxx::array_parser::juncture::string_value) out.push_back(item.second);
  }
  return out;
}

std::string TextArray(const std::vector<std::string>& values) {
  size_t size = 2;
  for (const auto& value : values) size += value.size() + 3;
  std::string out;
  out.reserve(size + size / 8);  // room for some escapes
  out += '{';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    // Runs without '"' or '\\' are copied whole.
    std::string_view rest = values[i];
    for (size_t special; (special = rest.find_first_of("\"\\")) != std::string_view::npos;) {
      out.append(rest.substr(0, special));
      out += '\\';
      out += rest[special];
      rest.remove_prefix(special + 1);
    }
    out.append(rest);
    out += '"';
  }
  out += '}';
  return out;
}

std::string IntArray(const std::vector<int64_t>& values) {
  return absl::StrCat("{", absl::StrJoin(values, ","), "}");
}

std::pair<std::string, std::string> IntTextArrays(
    const std::vector<std::pair<uint64_t, std::string>>& pairs) {
  std::vector<int64_t> numbers;
  std::vector<std::string> texts;
  numbers.reserve(pairs.size());
  texts.reserve(pairs.size());
  for (const auto& [number, text] : pairs) {
    numbers.push_back(static_cast<int64_t>(number));
    texts.push_back(text);
  }
  return {IntArray(numbers), TextArray(texts)};
}

}  // namespace parley::pg
