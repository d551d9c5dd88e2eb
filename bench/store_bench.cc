// parley-store-bench: the message service's PostgreSQL write path on its own.
// Sends batches of one-to-one messages through MessageStore::SendBatch, one
// batch at a time on one connection, as the BatchWriter does, and prints
// messages/s, the commit latency of a batch (p50/p99) and the CPU time per
// message of the PostgreSQL backend and of this process.
//
// Unlike bench/message_bench.sh nothing else shares the machine's cores, so
// the figures move little from run to run: use it to compare changes to the
// send SQL. Users write in a ring (u0 -> u1 -> ...), each message with its own
// dedup key, as clients do.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "message_store.h"
#include "parley/config/config.h"
#include "parley/pg/migrations.h"
#include "parley/pg/pool.h"

namespace parley::pg {
const std::vector<Migration>& message_migrations();
}

namespace {

using Clock = std::chrono::steady_clock;

// CPU time (user + system) of a process in milliseconds, from /proc.
double CpuMillis(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  // Fields after the command name, which may hold spaces: state ppid ...
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  if (fields.size() < 13) return 0;
  double ticks = std::stod(fields[11]) + std::stod(fields[12]);
  return ticks * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  size_t i = std::min(values.size() - 1, static_cast<size_t>(p / 100.0 * values.size()));
  std::nth_element(values.begin(), values.begin() + i, values.end());
  return values[i];
}

}  // namespace

int main(int argc, char** argv) {
  std::string pg_url = "postgresql://parley@127.0.0.1:15432/parley";
  int batch_size = 50;
  int seconds = 10;
  int users = 200;
  parley::config::Config config("parley-store-bench",
                                "PostgreSQL write path of one-to-one messages");
  config.Add("pg-url", "PARLEY_PG_URL", &pg_url, "PostgreSQL to write to (migrated if needed)");
  config.Add("batch", "PARLEY_STORE_BENCH_BATCH", &batch_size, "messages per batch");
  config.Add("seconds", "PARLEY_STORE_BENCH_SECONDS", &seconds, "how long to write");
  config.Add("users", "PARLEY_STORE_BENCH_USERS", &users, "users writing in a ring");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  if (batch_size < 1 || users < 2 || seconds < 1) {
    std::fprintf(stderr, "batch >= 1, users >= 2 and seconds >= 1, please\n");
    return 2;
  }

  auto pool = parley::pg::Pool::Create({pg_url, 1});
  if (!pool.ok()) {
    std::fprintf(stderr, "%s\n", std::string(pool.status().message()).c_str());
    return 1;
  }
  if (auto migrated = parley::pg::ApplyMigrations(**pool, "message",
                                                  parley::pg::message_migrations());
      !migrated.ok()) {
    std::fprintf(stderr, "%s\n", std::string(migrated.message()).c_str());
    return 1;
  }
  auto backend_pid = (*pool)->Query<int>([](pqxx::connection& c) -> absl::StatusOr<int> {
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
  });
  if (!backend_pid.ok()) {
    std::fprintf(stderr, "%s\n", std::string(backend_pid.status().message()).c_str());
    return 1;
  }
  parley::message::MessageStore store(pool->get());

  // A fresh app per run: earlier runs' rows don't collide, but they stay in
  // the tables and indexes, as history does in production.
  std::mt19937_64 random(std::random_device{}());
  const uint64_t sdkappid = 1500000000 + random() % 100000000;
  const std::string run = absl::StrCat(sdkappid);
  uint64_t sent = 0;
  std::vector<double> commit_ms;
  const double backend_before = CpuMillis(*backend_pid);
  const double self_before = CpuMillis(getpid());
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(seconds);
  while (Clock::now() < deadline) {
    std::vector<parley::message::SendJob> jobs;
    jobs.reserve(batch_size);
    for (int i = 0; i < batch_size; ++i, ++sent) {
      parley::message::SendJob job;
      job.sdkappid = sdkappid;
      int sender = static_cast<int>(sent % users);
      job.from = absl::StrCat("u", sender);
      job.to = absl::StrCat("u", (sender + 1) % users);
      job.random = static_cast<uint32_t>(random());
      job.dedup_key = absl::StrCat("r:", job.random, ":", sent);
      job.time = 1700000000 + static_cast<int64_t>(sent / 1000);
      job.body_json = absl::StrCat(
          R"([{"MsgType":"TIMCustomElem","MsgContent":{"Data":")", job.from, " ", sent,
          R"( 1234567890123"}}])");
      jobs.push_back(std::move(job));
    }
    auto batch_start = Clock::now();
    auto results = store.SendBatch(jobs);
    commit_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - batch_start).count());
    for (const auto& result : results) {
      if (!result.ok() || result->duplicate) {
        std::fprintf(stderr, "send failed: %s\n",
                     result.ok() ? "unexpected duplicate"
                                 : std::string(result.status().message()).c_str());
        return 1;
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double backend_ms = CpuMillis(*backend_pid) - backend_before;
  const double self_ms = CpuMillis(getpid()) - self_before;
  std::printf("batch %d, users %d, app %s\n", batch_size, users, run.c_str());
  std::printf("messages/s: %.0f  (%llu in %.1f s)\n", static_cast<double>(sent) / elapsed,
              static_cast<unsigned long long>(sent), elapsed);
  std::printf("commit ms per batch: p50 %.2f  p99 %.2f\n", Percentile(commit_ms, 50),
              Percentile(commit_ms, 99));
  std::printf("cpu ms per message: postgres backend %.4f  store-bench %.4f\n",
              backend_ms / static_cast<double>(sent), self_ms / static_cast<double>(sent));
  return 0;
}
