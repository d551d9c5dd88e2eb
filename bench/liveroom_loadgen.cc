// parley-liveroom-loadgen: live room (AVChatRoom) figures through a running
// cluster. bench/liveroom_bench.sh runs one process per gateway (a process
// holds at most `ulimit -Hn` descriptors) and combines what they print.
//
//   setup    creates an AVChatRoom and prints its ID;
//   members  --members connections log in and enter --room, then receive
//            until --messages messages came or --wait seconds passed. With
//            --sender, one more connection sends --messages messages at
//            --rate once every process's members are in (--ready-dir holds
//            one file per ready process; --processes of them). Prints, per
//            message, how many members here got it and the latest latency,
//            and the latency histogram of every delivery;
//   churn    --members connections enter and quit --room in turn for
//            --seconds: joins per second and CPU per join.
//
// A message's body is "<counter> <send time ns>" (CLOCK_MONOTONIC, one clock
// for every process on the machine), so receivers count lost and duplicated
// messages and latency.
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "bench_socket.h"
#include "parley/config/config.h"

namespace net = boost::asio;
using json = nlohmann::json;
using parley::bench::CpuMeter;
using parley::bench::NowNanos;
using parley::bench::Rest;
using parley::bench::RunUntil;

namespace {

struct Options {
  std::string mode = "members";
  std::string host = "127.0.0.1";
  int port = 8080;
  uint64_t sdkappid = 1400000000;
  std::string key;
  std::string admin = "administrator";
  std::string prefix = "lr";
  std::string room;
  int members = 1000;
  int messages = 10;
  int rate = 1;
  int seconds = 10;
  int wait = 60;
  int login_rate = 500;
  bool sender = false;
  std::string ready_dir;
  int processes = 1;
  std::string cpu;
  parley::bench::Target target;
};

std::string_view Between(std::string_view text, std::string_view open, char close) {
  size_t start = text.find(open);
  if (start == std::string_view::npos) return {};
  start += open.size();
  size_t end = text.find(close, start);
  return end == std::string_view::npos ? std::string_view{} : text.substr(start, end - start);
}

// Deliveries per message, and a latency histogram of 0.1 ms buckets.
struct Tally {
  std::vector<int> per_message_count;
  std::vector<double> per_message_max_ms;
  std::vector<uint64_t> histogram = std::vector<uint64_t>(100000, 0);  // up to 10 s
  uint64_t delivered = 0, duplicated = 0, joined = 0, quits = 0, errors = 0, dropped = 0;
  uint64_t acked = 0;
  int64_t first_ns = 0, last_ns = 0;  // first and latest delivery

  void Message(int64_t counter, int64_t sent_ns, std::vector<bool>& seen) {
    if (counter < 0) return;
    if (seen.size() <= static_cast<size_t>(counter)) seen.resize(counter * 2 + 64);
    if (seen[counter]) {
      ++duplicated;
      return;
    }
    seen[counter] = true;
    ++delivered;
    int64_t now = NowNanos();
    if (first_ns == 0) first_ns = now;
    last_ns = now;
    double ms = (now - sent_ns) / 1e6;
    if (per_message_count.size() <= static_cast<size_t>(counter)) {
      per_message_count.resize(counter + 1, 0);
      per_message_max_ms.resize(counter + 1, 0);
    }
    ++per_message_count[counter];
    per_message_max_ms[counter] = std::max(per_message_max_ms[counter], ms);
    histogram[std::min<size_t>(histogram.size() - 1, static_cast<size_t>(ms * 10))]++;
  }
};

class RoomClient : public parley::bench::BenchSocket {
 public:
  RoomClient(net::io_context& ioc, const parley::bench::Target& target, std::string user,
             Tally* tally)
      : BenchSocket(ioc, target, std::move(user)), tally_(tally) {}

  void Join(const std::string& room) {
    wanted_room_ = room;
    Send(R"({"id":"j","roomJoin":{"groupId":")" + room + R"("}})");
  }
  void Quit(const std::string& room) {
    wanted_room_.clear();
    Send(R"({"id":"q","roomQuit":{"groupId":")" + room + R"("}})");
  }
  void Say(const std::string& room, int64_t counter) {
    std::string frame = R"({"id":"m","groupSend":{"GroupId":")" + room;
    frame += R"(","MsgBody":[{"MsgType":"TIMCustomElem","MsgContent":{"Data":")";
    frame += std::to_string(counter) + " " + std::to_string(NowNanos()) + R"("}}]}})";
    Send(std::move(frame));
  }
  bool in_room() const { return in_room_; }
  // Churn: enter and quit in turn until stopped.
  void Churn(const std::string& room) {
    churn_room_ = room;
    Join(room);
  }
  void StopChurn() { churn_room_.clear(); }

 protected:
  void OnFrame(std::string_view text) override {
    if (text.starts_with(R"({"roomEvents":)") || text.starts_with(R"({"groupEvent":)")) {
      // Every message of the frame (room_events carries several).
      constexpr std::string_view kData = R"("Data":")";
      for (size_t at = text.find(kData); at != std::string_view::npos; at = text.find(kData, at + 1)) {
        std::string_view data = Between(text.substr(at), kData, '"');
        size_t space = data.find(' ');
        if (space == std::string_view::npos) continue;
        int64_t counter = -1, sent = 0;
        std::from_chars(data.data(), data.data() + space, counter);
        std::from_chars(data.data() + space + 1, data.data() + data.size(), sent);
        tally_->Message(counter, sent, seen_);
      }
      return;
    }
    if (text.find(R"("roomJoined")") != std::string_view::npos) {
      in_room_ = true;
      ++tally_->joined;
      if (!churn_room_.empty()) Quit(churn_room_);
      return;
    }
    if (text.find(R"("id":"q")") != std::string_view::npos &&
        text.find(R"("ack")") != std::string_view::npos) {
      in_room_ = false;
      ++tally_->quits;
      if (!churn_room_.empty()) Join(churn_room_);
      return;
    }
    if (text.find(R"("groupSendAck")") != std::string_view::npos) {
      ++tally_->acked;
      if (text.find("MsgFreqLimit") != std::string_view::npos) ++tally_->dropped;
      return;
    }
    if (text.find(R"("error")") != std::string_view::npos) {
      if (tally_->errors++ < 3) std::cerr << user() << ": " << text << "\n";
      // A refused join or quit (busy: 7008, 60008): try again, as a client
      // SDK would, after a pause.
      if (text.find(R"("id":"j")") != std::string_view::npos && !wanted_room_.empty()) {
        retry_.expires_after(std::chrono::milliseconds(500 + (tally_->errors % 500)));
        retry_.async_wait([self = std::static_pointer_cast<RoomClient>(shared_from_this())](
                              boost::system::error_code ec) {
          if (!ec) self->Join(self->wanted_room_);
        });
      } else if (!churn_room_.empty()) {
        if (in_room_) Quit(churn_room_); else Join(churn_room_);
      }
    }
  }

 private:
  Tally* tally_;
  std::vector<bool> seen_;
  bool in_room_ = false;
  std::string churn_room_;
  std::string wanted_room_;  // a refused join is retried
  boost::asio::steady_timer retry_{get_executor()};
};

std::vector<std::shared_ptr<RoomClient>> Connect(net::io_context& ioc, const Options& o,
                                                 int count, const std::string& tag, Tally* tally) {
  std::vector<std::shared_ptr<RoomClient>> clients;
  int ready = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    clients.push_back(std::make_shared<RoomClient>(ioc, o.target,
                                                   o.prefix + tag + std::to_string(i), tally));
    clients.back()->Start([&] { ++ready; });
    // Logins at --login-rate, and fewer than 200 waiting (the gateway bounds
    // connections not logged in yet per address).
    auto due = start + std::chrono::microseconds(static_cast<int64_t>(1e6 * (i + 1) / o.login_rate));
    RunUntil(ioc, [&] { return std::chrono::steady_clock::now() >= due && i + 1 - ready < 200; },
             std::chrono::seconds(60));
  }
  RunUntil(ioc, [&] { return ready == count; }, std::chrono::seconds(120));
  if (ready < count) {
    std::cerr << "only " << ready << " of " << count << " logged in\n";
    std::exit(1);
  }
  return clients;
}

int Setup(const Options& o) {
  Rest rest(o.target, o.admin);
  rest.Import({o.prefix + "owner"});
  json created = rest.Must("group_open_http_svc/create_group",
                           {{"Type", "AVChatRoom"}, {"Name", "bench"}, {"Owner_Account", o.prefix + "owner"}});
  std::printf("%s\n", created["GroupId"].get<std::string>().c_str());
  return 0;
}

int Members(const Options& o) {
  net::io_context ioc;
  auto guard = net::make_work_guard(ioc);
  Tally tally;
  auto clients = Connect(ioc, o, o.members, "m", &tally);
  // Joins at the login rate, as an audience arrives.
  auto join_start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < clients.size(); ++i) {
    clients[i]->Join(o.room);
    auto due = join_start + std::chrono::microseconds(static_cast<int64_t>(1e6 * (i + 1) / o.login_rate));
    RunUntil(ioc, [&] { return std::chrono::steady_clock::now() >= due; }, std::chrono::seconds(10));
  }
  RunUntil(ioc, [&] { return tally.joined >= static_cast<uint64_t>(o.members); },
           std::chrono::seconds(120));
  std::fprintf(stderr, "%llu of %d in the room\n", static_cast<unsigned long long>(tally.joined),
               o.members);
  if (!o.ready_dir.empty()) {
    std::ofstream(o.ready_dir + "/" + o.prefix) << tally.joined << "\n";
  }
  // The sender runs on its own thread and io_context, so receiving (the
  // bulk of this process's work) does not hold back its pace, and its own
  // copies of the messages are not counted as members'.
  std::atomic<bool> sending_done{!o.sender};
  std::thread sender;
  if (o.sender) {
    // Every process's members are in before the first message.
    RunUntil(ioc, [&] {
      size_t n = 0;
      for (auto& e : std::filesystem::directory_iterator(o.ready_dir)) n += e.is_regular_file();
      return n >= static_cast<size_t>(o.processes);
    }, std::chrono::seconds(600));
    sender = std::thread([&o, &sending_done] {
      net::io_context host_ioc;
      auto host_guard = net::make_work_guard(host_ioc);
      Tally host_tally;
      auto hosts = Connect(host_ioc, o, 1, "host", &host_tally);
      auto host = hosts[0];
      host->Join(o.room);
      RunUntil(host_ioc, [&] { return host->in_room(); }, std::chrono::seconds(10));
      CpuMeter cpu(o.cpu);
      auto start = std::chrono::steady_clock::now();
      uint64_t sent = 0;
      while (sent < static_cast<uint64_t>(o.messages)) {
        auto due = start + std::chrono::microseconds(static_cast<int64_t>(1e6 * sent / o.rate));
        host_ioc.run_until(due);
        host->Say(o.room, static_cast<int64_t>(sent++));
      }
      RunUntil(host_ioc, [&] { return host_tally.acked >= sent; }, std::chrono::seconds(30));
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("sent: %llu in %.1f s  dropped by frequency control: %llu (they reach nobody)\n",
                  static_cast<unsigned long long>(sent), seconds,
                  static_cast<unsigned long long>(host_tally.dropped));
      cpu.PrintShare(seconds);
      std::fflush(stdout);
      sending_done = true;
    });
  }
  uint64_t expected = static_cast<uint64_t>(o.members) * o.messages;
  // All came, or nothing came for 5 s (messages frequency control dropped
  // reach nobody).
  RunUntil(ioc, [&] {
    return tally.delivered >= expected ||
           (sending_done && tally.last_ns != 0 && NowNanos() - tally.last_ns > 5'000'000'000LL);
  }, std::chrono::seconds(o.wait));
  if (sender.joinable()) sender.join();
  double seconds = (tally.last_ns - tally.first_ns) / 1e9;
  // Per message: members here who got it, latest latency (ms).
  for (size_t i = 0; i < tally.per_message_count.size(); ++i) {
    std::printf("msg %zu %d %.2f\n", i, tally.per_message_count[i], tally.per_message_max_ms[i]);
  }
  uint64_t members_got = tally.delivered;
  std::printf("deliveries %llu of %llu  duplicated %llu  seconds %.2f\n",
              static_cast<unsigned long long>(members_got),
              static_cast<unsigned long long>(expected),
              static_cast<unsigned long long>(tally.duplicated), seconds);
  std::printf("hist");
  for (size_t i = 0; i < tally.histogram.size(); ++i) {
    if (tally.histogram[i]) std::printf(" %zu:%llu", i, static_cast<unsigned long long>(tally.histogram[i]));
  }
  std::printf("\n");
  return 0;
}

int Churn(const Options& o) {
  net::io_context ioc;
  auto guard = net::make_work_guard(ioc);
  Tally tally;
  auto clients = Connect(ioc, o, o.members, "c", &tally);
  CpuMeter cpu(o.cpu);
  auto start = std::chrono::steady_clock::now();
  for (auto& c : clients) c->Churn(o.room);
  ioc.run_for(std::chrono::seconds(o.seconds));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t joins = tally.joined, quits = tally.quits;
  std::printf("churn: %d connections entering and quitting one room for %.1f s\n", o.members, seconds);
  std::printf("joins: %llu (%.0f/s)  quits: %llu (%.0f/s)  errors: %llu\n",
              static_cast<unsigned long long>(joins), joins / seconds,
              static_cast<unsigned long long>(quits), quits / seconds,
              static_cast<unsigned long long>(tally.errors));
  cpu.PrintShare(seconds);
  for (auto& c : clients) c->StopChurn();
  ioc.run_for(std::chrono::milliseconds(500));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  int64_t sdkappid = static_cast<int64_t>(o.sdkappid);
  parley::config::Config config("parley-liveroom-loadgen", "live room figures");
  config.Add("mode", "PARLEY_ROOMGEN_MODE", &o.mode, "setup, members or churn");
  config.Add("host", "PARLEY_LOADGEN_HOST", &o.host, "gateway host");
  config.Add("port", "PARLEY_LOADGEN_PORT", &o.port, "gateway HTTP port");
  config.Add("sdkappid", "PARLEY_SDKAPPID", &sdkappid, "app");
  config.Add("secret-key", "PARLEY_SECRET_KEY", &o.key, "the app's secret key");
  config.Add("admin", "PARLEY_ADMIN_ID", &o.admin, "the app admin's identifier");
  config.Add("prefix", "PARLEY_LOADGEN_PREFIX", &o.prefix, "user id prefix (one per process)");
  config.Add("room", "PARLEY_ROOMGEN_ROOM", &o.room, "the room (members, churn)");
  config.Add("members", "PARLEY_ROOMGEN_MEMBERS", &o.members, "connections of this process");
  config.Add("messages", "PARLEY_ROOMGEN_MESSAGES", &o.messages, "messages the sender sends");
  config.Add("rate", "PARLEY_LOADGEN_RATE", &o.rate, "messages per second");
  config.Add("seconds", "PARLEY_LOADGEN_SECONDS", &o.seconds, "churn: how long");
  config.Add("wait", "PARLEY_ROOMGEN_WAIT", &o.wait, "members: longest wait for the messages");
  config.Add("login-rate", "PARLEY_ROOMGEN_LOGIN_RATE", &o.login_rate, "logins per second");
  config.Add("sender", "PARLEY_ROOMGEN_SENDER", &o.sender, "this process also sends");
  config.Add("ready-dir", "PARLEY_ROOMGEN_READY_DIR", &o.ready_dir, "where processes say ready");
  config.Add("processes", "PARLEY_ROOMGEN_PROCESSES", &o.processes, "processes to wait for");
  config.Add("cpu", "PARLEY_LOADGEN_CPU", &o.cpu, "name=pid,... whose CPU time to print");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  o.sdkappid = static_cast<uint64_t>(sdkappid);
  o.target = {o.host, o.port, o.sdkappid, o.key};
  if (o.key.empty()) {
    std::cerr << "--secret-key is required\n";
    return 2;
  }
  if (o.members < 1 || o.messages < 1 || o.rate < 1 || o.login_rate < 1) {
    std::cerr << "--members, --messages, --rate and --login-rate must be at least 1\n";
    return 2;
  }
  if (o.mode == "setup") return Setup(o);
  if (o.room.empty()) {
    std::cerr << "--room is required\n";
    return 2;
  }
  if (o.mode == "members") return Members(o);
  if (o.mode == "churn") return Churn(o);
  std::cerr << "--mode must be setup, members or churn\n";
  return 2;
}
