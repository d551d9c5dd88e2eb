// Fault injection end to end. Under steady one-to-one load across two gateways
// and two message replicas, each service in turn is killed with SIGKILL and
// restarted, then Redis and PostgreSQL are restarted. Checked: every
// acknowledged message reaches every session of its recipient exactly once,
// in order; every service serves again within a bound once it (or its
// dependency) is back; every after-send callback arrives.
//
// The suite runs its own PostgreSQL and Redis (tests/fault/infra.sh), with
// production durability, because it crashes them while other tests run.
// It prints, per fault: messages sent, acked, delivered, lost, duplicated,
// and how long the cluster took to serve again; the same table is written to
// <build>/test-logs/fault-report.txt, which scripts/test prints at the end.
#include <signal.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "support/e2e_helpers.h"
#include "support/http_client.h"
#include "support/test_cluster.h"
#include "support/webhook_receiver.h"
#include "support/ws_client.h"

using namespace parley::testing;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr int kPairs = 6;                   // sender i sends to receiver i
constexpr auto kSendInterval = 50ms;        // 20 messages a second per sender
constexpr auto kLoadBeforeFault = 2500ms;   // steady load before each fault
constexpr auto kOutage = 1500ms;            // how long the victim stays down
constexpr auto kServeBound = 30s;           // to serve again after the restart
constexpr auto kHeartbeat = 5s;             // receivers' heartbeat interval

// Runs tests/fault/infra.sh; fails the test when it fails.
void Infra(const std::string& command, const std::string& data, int port) {
  std::string line = absl::StrCat(PARLEY_SOURCE_DIR, "/tests/fault/infra.sh ", command, " '",
                                   data, "' ", port, " >>'", data, ".log' 2>&1");
  INFO(line);
  REQUIRE(std::system(line.c_str()) == 0);
}

// One message a sender started: its phase, and whether and when it was acked.
struct Outgoing {
  int phase = 0;
  bool acked = false;
  Clock::time_point acked_at;
};

// What one session of a receiver saw.
struct Session {
  std::string platform;
  std::atomic<int>* port = nullptr;
  std::vector<int> times_seen;           // by message number
  std::vector<Clock::time_point> seen_at;  // first arrival, by message number
  int highest = -1;
  int reordered = 0;
  int seq_gaps = 0;      // a timeline seq skipped: an event never delivered
  int stale_events = 0;  // an event at or below a seq already seen
  int reconnects = 0;
};

struct Pair {
  std::string sender;
  std::string receiver;
  std::atomic<int>* sender_port = nullptr;
  std::vector<Outgoing> sent;  // by message number
  Clock::time_point last_ack;
  std::map<int, int> error_codes;  // error frames the sender got, by code
  Session sessions[2];
};

class Load {
 public:
  Load(const TestCluster& c, std::atomic<int>* port_a, std::atomic<int>* port_b) : c_(c) {
    for (int i = 0; i < kPairs; ++i) {
      auto& pair = pairs_[i];
      pair.sender = absl::StrCat("sender", i);
      pair.receiver = absl::StrCat("receiver", i);
      pair.sender_port = i % 2 == 0 ? port_a : port_b;
      pair.sessions[0].platform = "Web";
      pair.sessions[0].port = port_a;
      pair.sessions[1].platform = "Android";
      pair.sessions[1].port = port_b;
    }
  }

  void Start() {
    for (int i = 0; i < kPairs; ++i) {
      senders_.emplace_back([this, i] { RunSender(pairs_[i]); });
      for (auto& session : pairs_[i].sessions) {
        receivers_.emplace_back([this, i, &session] { RunReceiver(pairs_[i], session); });
      }
    }
  }

  void SetPhase(int phase) { phase_ = phase; }

  // True when every sender had a message acked after `since`.
  bool AllSendersAckedSince(Clock::time_point since) {
    std::lock_guard lock(mu_);
    return std::all_of(std::begin(pairs_), std::end(pairs_),
                       [&](const Pair& p) { return p.last_ack > since; });
  }

  // Stops sending; a message in flight is retried until acked or `bound`.
  void StopSending(std::chrono::seconds bound) {
    stop_sending_ = true;
    auto deadline = Clock::now() + bound;
    while (Clock::now() < deadline && in_flight_ > 0) std::this_thread::sleep_for(50ms);
    give_up_ = true;
    for (auto& t : senders_) t.join();
  }

  // True when both sessions of every receiver saw every acked message.
  bool AllDelivered() {
    std::lock_guard lock(mu_);
    for (const auto& pair : pairs_) {
      for (size_t n = 0; n < pair.sent.size(); ++n) {
        if (!pair.sent[n].acked) continue;
        for (const auto& s : pair.sessions) {
          if (n >= s.times_seen.size() || s.times_seen[n] == 0) return false;
        }
      }
    }
    return true;
  }

  void StopReceiving() {
    stop_receiving_ = true;
    for (auto& t : receivers_) t.join();
  }

  // Only after both Stop calls.
  Pair* pairs() { return pairs_; }

 private:
  std::unique_ptr<WsClient> Connect(const std::string& user, const std::string& platform,
                                    int port, std::optional<uint64_t> last_seq) {
    try {
      auto ws = std::make_unique<WsClient>(port);
      json login = {{"sdkappid", std::to_string(c_.sdkappid)},
                    {"userId", user},
                    {"usersig", c_.Sig(user)},
                    {"platform", platform},
                    {"deviceId", user + "-" + platform}};
      if (last_seq) login["lastSeq"] = std::to_string(*last_seq);
      auto answer = ws->TryCall("login", {{"login", login}}, 3000);
      if (answer && answer->contains("loginAck")) return ws;
    } catch (const std::exception&) {
      // the gateway is down or restarting: try again
    }
    return nullptr;
  }

  void RunSender(Pair& pair) {
    std::unique_ptr<WsClient> ws;
    auto next_send = Clock::now();
    for (int n = 0; !stop_sending_; ++n) {
      {
        std::lock_guard lock(mu_);
        pair.sent.push_back({phase_.load(), false, {}});
      }
      ++in_flight_;
      json send = {{"send",
                    {{"to", pair.receiver},
                     {"clientMsgId", absl::StrCat(pair.sender, "-", n)},
                     {"body", {{{"MsgType", "TIMTextElem"},
                                {"MsgContent", {{"Text", std::to_string(n)}}}}}}}}};
      // Until acked: a send whose outcome is unknown (no answer, an error,
      // a dropped connection) is sent again with the same clientMsgId.
      for (int attempt = 0; !give_up_; ++attempt) {
        if (!ws) ws = Connect(pair.sender, "Web", pair.sender_port->load(), std::nullopt);
        if (!ws) {
          std::this_thread::sleep_for(200ms);
          continue;
        }
        auto answer = ws->TryCall(absl::StrCat(n, "-", attempt), send, 3000);
        ws->ClearPending();  // the sender's own timeline events
        if (!answer) {
          ws.reset();
          continue;
        }
        if (answer->contains("sendAck")) {
          std::lock_guard lock(mu_);
          pair.sent[n].acked = true;
          pair.sent[n].acked_at = pair.last_ack = Clock::now();
          break;
        }
        int code = (*answer)["error"].value("errorCode", 0);
        int wait_ms = (*answer)["error"].value("retryAfterMs", 200);
        {
          std::lock_guard lock(mu_);
          ++pair.error_codes[code];
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(std::max(wait_ms, 50)));
      }
      --in_flight_;
      next_send += kSendInterval;
      std::this_thread::sleep_until(std::max(next_send, Clock::now()));
    }
  }

  void RunReceiver(Pair& pair, Session& session) {
    std::unique_ptr<WsClient> ws;
    uint64_t last_seq = 0;
    auto last_heartbeat = Clock::now();
    while (!stop_receiving_) {
      if (!ws) {
        ws = Connect(pair.receiver, session.platform, session.port->load(), last_seq);
        if (!ws) {
          std::this_thread::sleep_for(200ms);
          continue;
        }
        std::lock_guard lock(mu_);
        ++session.reconnects;
      }
      if (Clock::now() - last_heartbeat > kHeartbeat) {
        ws->Send({{"id", "hb"}, {"heartbeat", json::object()}});
        last_heartbeat = Clock::now();
      }
      auto event = ws->NextEvent(200);
      if (!event) {
        if (ws->closed()) ws.reset();
        continue;
      }
      uint64_t seq = SeqOf(*event);
      std::lock_guard lock(mu_);
      if (seq <= last_seq) {
        ++session.stale_events;
        continue;
      }
      if (seq != last_seq + 1) ++session.seq_gaps;
      last_seq = seq;
      if (!event->contains("message")) continue;  // only messages are sent here
      int n = std::stoi(event->at("message")["MsgBody"][0]["MsgContent"]["Text"].get<std::string>());
      if (static_cast<size_t>(n) >= session.times_seen.size()) {
        session.times_seen.resize(n + 1, 0);
        session.seen_at.resize(n + 1);
      }
      if (session.times_seen[n]++ == 0) session.seen_at[n] = Clock::now();
      if (n < session.highest) ++session.reordered;
      session.highest = std::max(session.highest, n);
    }
  }

  const TestCluster& c_;
  Pair pairs_[kPairs];
  std::mutex mu_;
  std::atomic<int> phase_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<bool> stop_sending_{false};
  std::atomic<bool> give_up_{false};
  std::atomic<bool> stop_receiving_{false};
  std::vector<std::thread> senders_;
  std::vector<std::thread> receivers_;
};

struct Fault {
  std::string name;
  std::function<void()> inject;
  std::function<void()> restore;
};

struct PhaseReport {
  std::string fault;
  double serve_again_s = 0;  // from the restart to every check passing
  int sent = 0, acked = 0, delivered = 0, lost = 0, duplicated = 0, callbacks_missing = 0;
  double max_delivery_s = 0;  // ack to the later session's arrival
};

}  // namespace

TEST_CASE("faults: every acked message delivered exactly once, in order, through kills and "
          "restarts", "[e2e][fault]") {
  const std::string data = absl::StrCat(PARLEY_BINARY_DIR, "/fault-data");
  const int pg_port = FreePort();
  const int redis_port = FreePort();
  Infra("wipe", data, redis_port);
  Infra("pg-start", data, pg_port);
  Infra("redis-start", data, redis_port);
  struct Cleanup {
    std::string data;
    int redis_port;
    ~Cleanup() {
      std::system(absl::StrCat(PARLEY_SOURCE_DIR, "/tests/fault/infra.sh wipe '", data, "' ",
                               redis_port, " >/dev/null 2>&1")
                      .c_str());
    }
  } cleanup{data, redis_port};

  WebhookReceiver webhook;
  const std::string message_a = absl::StrCat("127.0.0.1:", FreePort());
  const std::string message_b = absl::StrCat("127.0.0.1:", FreePort());
  TestCluster c(Env{
      {"PARLEY_PG_URL", absl::StrCat("postgresql://parley@127.0.0.1:", pg_port, "/parley_fault")},
      {"PARLEY_REDIS_ADDR", absl::StrCat("127.0.0.1:", redis_port)},
      {"PARLEY_MESSAGE_GRPC_ADDR", message_a},
      {"PARLEY_MESSAGE_TARGET", absl::StrCat("ipv4:", message_a, ",", message_b)},
      {"PARLEY_RPC_TIMEOUT_MS", "1500"},
      {"PARLEY_CALLBACK_URL", webhook.url()},
      {"PARLEY_CALLBACK_TOKEN", "fault-token"},
      {"PARLEY_CALLBACK_RETRY_BASE_MS", "100"},
      {"PARLEY_CALLBACK_RETRY_MAX_MS", "1000"},
  });
  int message_b_health = 0;
  const Env message_b_env = {{"PARLEY_MESSAGE_GRPC_ADDR", message_b},
                             {"PARLEY_MESSAGE_METRICS_ADDR",
                              absl::StrCat("127.0.0.1:", FreePort())}};
  Process message_replica =
      c.StartInstance("message", message_b_env, "PARLEY_MESSAGE_METRICS_ADDR", &message_b_health);
  int gateway_b_http = 0;
  const Env gateway_b_env = {
      {"PARLEY_HTTP_ADDR", absl::StrCat("127.0.0.1:", FreePort())},
      {"PARLEY_GATEWAY_GRPC_ADDR", absl::StrCat("127.0.0.1:", FreePort())},
      {"PARLEY_GATEWAY_ID", absl::StrCat("gw-b-", c.sdkappid)}};
  Process gateway_b = c.StartInstance("gateway", gateway_b_env, "PARLEY_HTTP_ADDR", &gateway_b_http);

  std::vector<std::string> users;
  for (int i = 0; i < kPairs; ++i) {
    users.push_back(absl::StrCat("sender", i));
    users.push_back(absl::StrCat("receiver", i));
  }
  ImportAccounts(c, users);

  std::atomic<int> port_a{c.http_port};
  std::atomic<int> port_b{gateway_b_http};
  Load load(c, &port_a, &port_b);
  load.Start();

  auto kill = [](Process& p) { p.Stop(SIGKILL, std::chrono::milliseconds(5000)); };
  std::vector<Fault> faults = {
      {"none (warm-up)", [] {}, [] {}},
      {"SIGKILL auth", [&] { kill(c.auth); }, [&] { c.StartAuth(); }},
      {"SIGKILL message (1 of 2)", [&] { kill(c.message); }, [&] { c.StartMessage(); }},
      {"SIGKILL push", [&] { kill(c.push); }, [&] { c.StartPush(); }},
      {"SIGKILL callback", [&] { kill(c.callback); }, [&] { c.StartCallback(); }},
      {"SIGKILL relationship", [&] { kill(c.relationship); }, [&] { c.StartRelationship(); }},
      {"SIGKILL gateway (1 of 2)", [&] { kill(gateway_b); },
       [&] {
         gateway_b = c.StartInstance("gateway", gateway_b_env, "PARLEY_HTTP_ADDR", &gateway_b_http);
         port_b = gateway_b_http;
       }},
      {"restart Redis", [&] { Infra("redis-stop", data, redis_port); },
       [&] { Infra("redis-start", data, redis_port); }},
      {"crash PostgreSQL", [&] { Infra("pg-crash", data, pg_port); },
       [&] { Infra("pg-start", data, pg_port); }},
      {"none (after all faults)", [] {}, [] {}},
  };

  // Every process healthy, auth and relationship answering REST, and every
  // sender's messages acked again.
  auto serving = [&](Clock::time_point since) {
    std::vector<std::pair<Process*, int>> processes = {
        {&c.auth, c.auth_metrics_port},        {&c.message, c.message_metrics_port},
        {&message_replica, message_b_health},  {&c.push, c.push_metrics_port},
        {&c.callback, c.callback_metrics_port}, {&c.relationship, c.relationship_metrics_port},
        {&c.gateway, c.http_port},             {&gateway_b, gateway_b_http}};
    for (auto& [process, port] : processes) {
      if (!process->running()) return false;
      try {
        if (HttpGet(port, "/healthz").status != 200) return false;
      } catch (const std::exception&) {
        return false;
      }
    }
    try {
      auto check = json::parse(
          HttpPost(c.http_port, c.Target("im_open_login_svc/account_check", c.admin, c.Sig(c.admin)),
                   R"({"CheckItem":[{"UserID":"sender0"}]})")
              .body);
      auto profile = json::parse(
          HttpPost(c.http_port, c.Target("profile/portrait_get", c.admin, c.Sig(c.admin)),
                   R"({"To_Account":["sender0"],"TagList":["Tag_Profile_IM_Nick"]})")
              .body);
      if (check["ErrorCode"] != 0 || profile["ErrorCode"] != 0) return false;
    } catch (const std::exception&) {
      return false;
    }
    return load.AllSendersAckedSince(since);
  };

  std::vector<PhaseReport> reports;
  for (size_t phase = 0; phase < faults.size(); ++phase) {
    load.SetPhase(static_cast<int>(phase));
    PhaseReport report;
    report.fault = faults[phase].name;
    std::this_thread::sleep_for(kLoadBeforeFault);
    faults[phase].inject();
    std::this_thread::sleep_for(kOutage);
    faults[phase].restore();
    auto restored = Clock::now();
    while (!serving(restored) && Clock::now() - restored < kServeBound) {
      std::this_thread::sleep_for(100ms);
    }
    report.serve_again_s = std::chrono::duration<double>(Clock::now() - restored).count();
    INFO(report.fault);
    CHECK(serving(restored));
    reports.push_back(report);
  }

  load.StopSending(30s);
  auto deadline = Clock::now() + 30s;
  while (!load.AllDelivered() && Clock::now() < deadline) std::this_thread::sleep_for(100ms);
  load.StopReceiving();

  // After-send callbacks, by sender and message number.
  std::set<std::pair<std::string, std::string>> wanted;
  for (int i = 0; i < kPairs; ++i) {
    const Pair& pair = load.pairs()[i];
    for (size_t n = 0; n < pair.sent.size(); ++n) {
      if (pair.sent[n].acked) wanted.insert({pair.sender, std::to_string(n)});
    }
  }
  std::set<std::pair<std::string, std::string>> called;
  deadline = Clock::now() + 30s;
  while (Clock::now() < deadline) {
    called.clear();
    for (const auto& call : webhook.Calls("C2C.CallbackAfterSendMsg")) {
      called.insert({call.body.value("From_Account", ""),
                     call.body["MsgBody"][0]["MsgContent"].value("Text", "")});
    }
    if (std::includes(called.begin(), called.end(), wanted.begin(), wanted.end())) break;
    std::this_thread::sleep_for(200ms);
  }
  int callbacks_missing = 0;

  int reordered = 0, seq_gaps = 0, stale = 0;
  std::map<int, int> error_codes;
  for (int i = 0; i < kPairs; ++i) {
    Pair& pair = load.pairs()[i];
    for (auto& [code, count] : pair.error_codes) error_codes[code] += count;
    for (auto& s : pair.sessions) {
      reordered += s.reordered;
      seq_gaps += s.seq_gaps;
      stale += s.stale_events;
      s.times_seen.resize(std::max(s.times_seen.size(), pair.sent.size()), 0);
      s.seen_at.resize(s.times_seen.size());
    }
    for (size_t n = 0; n < pair.sent.size(); ++n) {
      const Outgoing& out = pair.sent[n];
      PhaseReport& report = reports[out.phase];
      ++report.sent;
      report.acked += out.acked;
      bool everywhere = true;
      Clock::time_point last_arrival = out.acked_at;
      for (const auto& s : pair.sessions) {
        if (s.times_seen[n] == 0) everywhere = false;
        if (s.times_seen[n] > 1) report.duplicated += s.times_seen[n] - 1;
        if (s.times_seen[n] > 0) last_arrival = std::max(last_arrival, s.seen_at[n]);
      }
      if (everywhere) ++report.delivered;
      if (out.acked && called.count({pair.sender, std::to_string(n)}) == 0) {
        ++report.callbacks_missing;
        ++callbacks_missing;
      }
      if (out.acked && !everywhere) ++report.lost;
      if (out.acked && everywhere) {
        report.max_delivery_s = std::max(
            report.max_delivery_s, std::chrono::duration<double>(last_arrival - out.acked_at).count());
      }
    }
  }

  std::ostringstream table;
  table << absl::StrFormat("%-26s %6s %6s %9s %5s %10s %11s %12s %9s\n", "fault", "sent",
                           "acked", "delivered", "lost", "duplicated", "serve again",
                           "max delivery", "no after-callback");
  for (const auto& r : reports) {
    table << absl::StrFormat("%-26s %6d %6d %9d %5d %10d %10.1fs %11.2fs %9d\n", r.fault, r.sent,
                             r.acked, r.delivered, r.lost, r.duplicated, r.serve_again_s,
                             r.max_delivery_s, r.callbacks_missing);
  }
  table << absl::StrFormat(
      "2 gateways, 2 message replicas; %d senders at %d msg/s each, every receiver on 2 "
      "sessions.\nout of order: %d; timeline gaps: %d; events at an old seq: %d; acked "
      "messages without their after-send callback: %d of %d\n",
      kPairs, static_cast<int>(1000ms / kSendInterval), reordered, seq_gaps, stale,
      callbacks_missing, wanted.size());
  table << "error frames senders got (code: count):";
  for (auto& [code, count] : error_codes) table << " " << code << ": " << count;
  table << "\n";
  std::cout << table.str();
  std::ofstream(absl::StrCat(PARLEY_BINARY_DIR, "/test-logs/fault-report.txt")) << table.str();

  INFO(table.str());
  for (const auto& r : reports) {
    INFO(r.fault);
    CHECK(r.acked > 0);
    CHECK(r.lost == 0);
    CHECK(r.duplicated == 0);
  }
  CHECK(reordered == 0);
  CHECK(seq_gaps == 0);
  CHECK(callbacks_missing == 0);
  // With every fault over, online delivery is by push again, not by the
  // heartbeat's catch-up (which would take up to kHeartbeat).
  CHECK(reports.back().max_delivery_s < 2.0);
}
