// parley-loadgen: N users on WebSocket connections, each sending to the next
// user in a ring at a combined target rate. Prints sent/s, delivered/s,
// end-to-end latency (p50/p99/p999), lost, duplicated and reordered counts,
// and the gateway's memory per idle connection.
//
// Every message carries its sender's counter and its send time, so the
// receiver can tell loss, duplicates and reordering, and measure latency
// (sender and receiver share this process's clock).
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string_view>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "parley/config/config.h"
#include "bench_socket.h"
#include "proc_stats.h"
#include "parley/usersig/usersig.h"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace parley::bench;

namespace {

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Stats {
  uint64_t sent = 0;       // acked by the server
  uint64_t send_errors = 0;
  uint64_t login_errors = 0;
  uint64_t delivered = 0;  // distinct messages received by their recipient
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  std::vector<double> latencies_ms;
};

// What a receiver has seen from one sender. A sender's counters run from 0
// without gaps, so a bitmap holds them.
struct SenderTrack {
  std::vector<bool> seen;
  int64_t highest = -1;
};

// The text of a JSON string member `"name":"..."` in `text`, or empty. Only
// for strings this program wrote or the server copied from them: user ids
// and payloads without quotes or escapes.
std::string_view StringMember(std::string_view text, std::string_view quoted_name_colon_quote) {
  size_t start = text.find(quoted_name_colon_quote);
  if (start == std::string_view::npos) return {};
  start += quoted_name_colon_quote.size();
  size_t end = text.find('"', start);
  return end == std::string_view::npos ? std::string_view{} : text.substr(start, end - start);
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  uint64_t sdkappid = 1400000000;
  std::string key;
  int users = 100;
  int rate = 1000;
  int seconds = 10;
  int idle = 0;
  std::string prefix = "load";
  int login_rate = 1000;  // idle-connection logins per second
};

class Connection : public parley::bench::BenchSocket {
 public:
  Connection(net::io_context& ioc, const parley::bench::Target& target, std::string user,
             Stats* stats, std::map<std::string, SenderTrack>* senders)
      : BenchSocket(ioc, target, std::move(user)), stats_(stats), senders_(senders) {}

  // User ids are the --prefix plus digits, so they need no escaping. The
  // payload "<sender> <counter> <send time ns>" lets the receiver tell loss,
  // duplicates and reordering, and measure latency.
  void SendTo(const std::string& peer) {
    std::string counter = std::to_string(counter_++);
    std::string frame;
    frame.reserve(192 + 2 * user().size() + peer.size());
    frame.append(R"({"id":"m","send":{"to":")").append(peer);
    frame.append(R"(","clientMsgId":")").append(user()).append("-").append(counter);
    frame.append(R"(","body":[{"MsgType":"TIMCustomElem","MsgContent":{"Data":")");
    frame.append(user()).append(" ").append(counter).append(" ").append(std::to_string(NowNanos()));
    frame.append(R"("}}]}})");
    Send(std::move(frame));
  }

 protected:
  // The two frames every message brings, events and send acks, are read
  // without parsing.
  void OnFrame(std::string_view text) override {
    if (text.starts_with(R"({"event":)")) return HandleEvent(text);
    if (text.find(R"("error")") != std::string_view::npos) {
      if (stats_->send_errors++ < 3) std::cerr << user() << ": " << text << "\n";
      return;
    }
    if (text.find(R"("sendAck")") != std::string_view::npos) ++stats_->sent;
  }

  void OnLoginError(std::string_view text) override {
    if (stats_->login_errors++ < 3) std::cerr << user() << ": " << text << "\n";
  }

 private:
  void HandleEvent(std::string_view text) {
    // Only messages from others count: the sender's own devices get copies.
    if (StringMember(text, R"("From_Account":")") == user()) return;
    std::string_view payload = StringMember(text, R"("Data":")");
    std::string_view fields[3];
    for (auto& field : fields) {
      size_t space = payload.find(' ');
      field = payload.substr(0, space);
      payload = space == std::string_view::npos ? std::string_view{} : payload.substr(space + 1);
    }
    int64_t counter = -1, sent_nanos = 0;
    std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), counter);
    std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), sent_nanos);
    if (fields[0].empty() || counter < 0) return;  // not a load-generator message
    SenderTrack& track = (*senders_)[std::string(fields[0])];
    if (track.seen.size() <= static_cast<size_t>(counter)) track.seen.resize(counter * 2 + 64);
    if (track.seen[counter]) {
      ++stats_->duplicated;
      return;
    }
    track.seen[counter] = true;
    if (counter < track.highest) ++stats_->reordered;  // arrived after a later one
    track.highest = std::max(track.highest, counter);
    ++stats_->delivered;
    stats_->latencies_ms.push_back((NowNanos() - sent_nanos) / 1e6);
  }

  Stats* stats_;
  std::map<std::string, SenderTrack>* senders_;
  int64_t counter_ = 0;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

void RunUntil(net::io_context& ioc, const std::function<bool()>& done, std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  while (!done() && Clock::now() < deadline) ioc.run_for(std::chrono::milliseconds(20));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  int64_t sdkappid = static_cast<int64_t>(o.sdkappid);
  int gateway_pid = 0;
  std::string cpu_processes;
  parley::config::Config config("parley-loadgen", "client-protocol load generator");
  config.Add("host", "PARLEY_LOADGEN_HOST", &o.host, "gateway host");
  config.Add("port", "PARLEY_LOADGEN_PORT", &o.port, "gateway HTTP port");
  config.Add("sdkappid", "PARLEY_SDKAPPID", &sdkappid, "app");
  config.Add("secret-key", "PARLEY_SECRET_KEY", &o.key, "the app's secret key");
  config.Add("users", "PARLEY_LOADGEN_USERS", &o.users, "connected users sending in a ring");
  config.Add("rate", "PARLEY_LOADGEN_RATE", &o.rate, "messages per second, all users together");
  config.Add("seconds", "PARLEY_LOADGEN_SECONDS", &o.seconds, "how long to send");
  config.Add("idle", "PARLEY_LOADGEN_IDLE", &o.idle, "extra idle connections for the memory figure");
  config.Add("gateway-pid", "PARLEY_LOADGEN_GATEWAY_PID", &gateway_pid, "for RSS figures");
  config.Add("cpu", "PARLEY_LOADGEN_CPU", &cpu_processes,
             "name=pid,... whose CPU time per delivered message to print");
  config.Add("prefix", "PARLEY_LOADGEN_PREFIX", &o.prefix, "user id prefix");
  config.Add("login-rate", "PARLEY_LOADGEN_LOGIN_RATE", &o.login_rate,
             "idle-connection logins per second");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  o.sdkappid = static_cast<uint64_t>(sdkappid);
  if (o.key.empty()) {
    std::cerr << "--secret-key is required\n";
    return 2;
  }

  parley::bench::Target target{o.host, o.port, o.sdkappid, o.key};
  net::io_context ioc;
  // Keeps run_for() running while nothing is pending: an io_context that
  // runs out of work stops, and later run_for() calls would return at once.
  auto keep_running = net::make_work_guard(ioc);
  Stats stats;
  std::map<std::string, SenderTrack> senders;

  // Idle connections first, to measure what one costs the gateway. A few
  // warm the gateway up (its RPC channels, thread caches) before the
  // "before" figure, so only per-connection memory is counted.
  std::vector<std::shared_ptr<Connection>> idle;
  int idle_ready = 0;
  auto connect_idle = [&](int until) {
    for (int i = static_cast<int>(idle.size()); i < until; ++i) {
      idle.push_back(std::make_shared<Connection>(ioc, target, o.prefix + "_idle_" + std::to_string(i),
                                                  &stats, &senders));
      idle.back()->Start([&] { ++idle_ready; });
      // Pace the logins at --login-rate.
      if (i % 100 == 99) ioc.run_for(std::chrono::milliseconds(100000 / std::max(1, o.login_rate)));
    }
    // Logins may be slow (a first login imports the account): wait as long
    // as they keep completing.
    for (int last = -1; idle_ready < until && idle_ready != last;) {
      last = idle_ready;
      RunUntil(ioc, [&] { return idle_ready == until; }, std::chrono::seconds(30));
    }
    // Let the gateway finish the logins' background work before measuring.
    ioc.run_for(std::chrono::seconds(1));
  };
  int warmup = std::min(o.idle, std::max(o.idle / 20, std::min(o.idle, 50)));
  connect_idle(warmup);
  int warm_ready = idle_ready;
  long rss_before = gateway_pid ? RssKb(gateway_pid) : -1;
  connect_idle(o.idle);
  if (idle_ready < o.idle) {
    std::cerr << "only " << idle_ready << " of " << o.idle << " idle connections logged in\n";
  }
  long rss_idle = gateway_pid ? RssKb(gateway_pid) : -1;

  std::vector<std::shared_ptr<Connection>> users;
  int ready = 0;
  for (int i = 0; i < o.users; ++i) {
    users.push_back(std::make_shared<Connection>(ioc, target, o.prefix + "_" + std::to_string(i),
                                                 &stats, &senders));
    users.back()->Start([&] { ++ready; });
  }
  RunUntil(ioc, [&] { return ready == o.users; }, std::chrono::seconds(30));
  if (ready < o.users) {
    std::cerr << "only " << ready << " of " << o.users << " users logged in\n";
    return 1;
  }

  // Warm-up, not counted: every user sends one message around the ring, so
  // the services' per-user caches (account existence, send permissions)
  // are filled and the figures below show the steady state.
  if (o.rate > 0 && !users.empty()) {
    for (size_t i = 0; i < users.size(); ++i) {
      users[i]->SendTo(o.prefix + "_" + std::to_string((i + 1) % users.size()));
    }
    RunUntil(ioc, [&] { return stats.delivered >= users.size(); }, std::chrono::seconds(30));
    std::cout << "warm-up: " << stats.delivered << " of " << users.size() << " delivered\n";
    stats = Stats{};
  }

  // Send at the target rate in 1 ms ticks.
  auto cpu_before = CpuTicks();
  auto processes = ParseProcessList(cpu_processes);
  auto process_ticks_before = TicksOf(processes);
  auto start = Clock::now();
  auto end = start + std::chrono::seconds(o.seconds);
  uint64_t planned = 0;
  size_t next_user = 0;
  while (Clock::now() < end) {
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    uint64_t due = static_cast<uint64_t>(elapsed * o.rate);
    for (; planned < due; ++planned) {
      auto& u = users[next_user];
      u->SendTo(o.prefix + "_" + std::to_string((next_user + 1) % users.size()));
      next_user = (next_user + 1) % users.size();
    }
    ioc.run_for(std::chrono::milliseconds(1));
  }
  double send_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  RunUntil(ioc, [&] { return stats.delivered >= planned && stats.sent + stats.send_errors >= planned; },
           std::chrono::seconds(15));
  double total_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  auto cpu_after = CpuTicks();
  auto process_ticks_after = TicksOf(processes);

  uint64_t lost = stats.sent > stats.delivered ? stats.sent - stats.delivered : 0;
  std::cout << "users: " << o.users << "  target: " << o.rate << " msg/s for " << o.seconds << " s\n";
  std::printf("sent/s: %.0f  delivered/s: %.0f  (sent %llu, delivered %llu, send errors %llu)\n",
              stats.sent / send_seconds, stats.delivered / total_seconds,
              static_cast<unsigned long long>(stats.sent),
              static_cast<unsigned long long>(stats.delivered),
              static_cast<unsigned long long>(stats.send_errors));
  std::printf("latency ms: p50 %.2f  p99 %.2f  p999 %.2f\n",
              Percentile(stats.latencies_ms, 50), Percentile(stats.latencies_ms, 99),
              Percentile(stats.latencies_ms, 99.9));
  std::printf("lost: %llu  duplicated: %llu  reordered: %llu\n",
              static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(stats.duplicated),
              static_cast<unsigned long long>(stats.reordered));
  if (cpu_after.first > cpu_before.first) {
    std::printf("cpu stolen by the host during the run: %.0f%%\n",
                100.0 * double(cpu_after.second - cpu_before.second) /
                    double(cpu_after.first - cpu_before.first));
  }
  // CPU per message does not depend on how much the host steals, so unlike
  // latency it compares across runs on a shared VM.
  if (stats.delivered > 0) {
    double ms_per_tick = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
    double total = 0;
    std::printf("cpu ms per delivered message:");
    for (size_t i = 0; i < processes.size(); ++i) {
      double ms = double(process_ticks_after[i] - process_ticks_before[i]) * ms_per_tick /
                  double(stats.delivered);
      total += ms;
      std::printf("  %s %.3f", processes[i].first.c_str(), ms);
    }
    std::printf("  total %.3f\n", total);
  }
  int measured = idle_ready - warm_ready;
  if (gateway_pid && measured > 0) {
    std::printf("gateway RSS: %ld KB before, %ld KB with %d more idle connections: %.1f KB each\n",
                rss_before, rss_idle, measured, double(rss_idle - rss_before) / measured);
  }
  return lost || stats.duplicated || stats.reordered ? 1 : 0;
}
