// parley-group-loadgen: group messaging figures through a running cluster
// (bench/group_bench.sh runs every mode):
//
//   fanout   one Work group, every member online, members sending at --rate
//            in all: deliveries/s and end-to-end latency per delivery;
//   groups   --groups groups of --members members, one online sender each,
//            sending at --rate in all: group messages stored per second;
//   big      a Public group of --members members, --online of them online,
//            one message at a time: time until every online member has it;
//   catchup  a user in --groups groups, each with a message sent while the
//            user was away: calls and time to learn what changed, then to
//            fetch it all.
//
// Every message carries "<sender> <counter> <send time ns>", so receivers
// count lost, duplicated and reordered messages (all must be 0) and latency
// (senders and receivers share this process's clock). Setup (accounts,
// groups, members) goes through REST as the app admin.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "parley/config/config.h"
#include "bench_common.h"
#include "bench_socket.h"
#include "parley/usersig/usersig.h"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

using parley::bench::CpuMeter;
using parley::bench::NowNanos;
using parley::bench::Percentile;
using parley::bench::Rest;
using parley::bench::RunUntil;

struct Options {
  std::string mode = "fanout";
  std::string host = "127.0.0.1";
  int port = 8080;
  uint64_t sdkappid = 1400000000;
  std::string key;
  std::string admin = "administrator";
  std::string prefix = "gb";
  int members = 200;
  int online = 0;
  int groups = 1000;
  int rate = 50;
  int seconds = 10;
  int messages = 30;
  std::string cpu;  // name=pid,... whose CPU time per message to print
  parley::bench::Target target;  // host, port, app and key, for the sockets
};

// A group with `members` (the first is the owner); returns its ID.
std::string MakeGroup(Rest& rest, const std::string& type, const std::vector<std::string>& members) {
  json initial = json::array();
  for (size_t i = 1; i < members.size() && i < 100; ++i) {
    initial.push_back({{"Member_Account", members[i]}});
  }
  std::string id = rest.Must("group_open_http_svc/create_group",
                             {{"Type", type}, {"Name", "bench"}, {"Owner_Account", members[0]},
                              {"MemberList", initial}})["GroupId"];
  for (size_t i = 100; i < members.size(); i += 300) {
    json more = json::array();
    for (size_t j = i; j < members.size() && j < i + 300; ++j) {
      more.push_back({{"Member_Account", members[j]}});
    }
    rest.Must("group_open_http_svc/add_group_member",
              {{"GroupId", id}, {"Silence", 1}, {"MemberList", more}});
  }
  return id;
}

// One client connection; frames go to `on_frame` as text.
class Client : public parley::bench::BenchSocket {
 public:
  using FrameHandler = std::function<void(Client&, std::string_view)>;
  Client(net::io_context& ioc, const parley::bench::Target& target, std::string user,
         FrameHandler on_frame)
      : BenchSocket(ioc, target, std::move(user)), on_frame_(std::move(on_frame)) {}

  // A group message whose body is "<user> <counter> <now ns>".
  void SendGroup(const std::string& group) {
    std::string counter = std::to_string(counter_++);
    std::string frame = R"({"id":"m","groupSend":{"GroupId":")";
    frame.append(group).append(R"(","ClientMsgId":")").append(user()).append("-").append(counter);
    frame.append(R"(","MsgBody":[{"MsgType":"TIMCustomElem","MsgContent":{"Data":")");
    frame.append(user()).append(" ").append(counter).append(" ").append(std::to_string(NowNanos()));
    frame.append(R"("}}]}})");
    Send(std::move(frame));
  }

 protected:
  void OnFrame(std::string_view text) override { on_frame_(*this, text); }

 private:
  FrameHandler on_frame_;
  int64_t counter_ = 0;
};

std::string_view Member(std::string_view text, std::string_view quoted_name_colon_quote) {
  size_t start = text.find(quoted_name_colon_quote);
  if (start == std::string_view::npos) return {};
  start += quoted_name_colon_quote.size();
  size_t end = text.find('"', start);
  return end == std::string_view::npos ? std::string_view{} : text.substr(start, end - start);
}

// Deliveries as receivers count them: per (receiver, sender) the counters
// seen, so loss, duplicates and reordering show.
struct Tally {
  uint64_t acked = 0, send_errors = 0, delivered = 0, duplicated = 0, reordered = 0;
  std::vector<double> latencies_ms;
  // Per message (sender, counter): deliveries so far and the latest one.
  std::map<std::pair<std::string, int64_t>, std::pair<int, double>> per_message;
  std::map<std::string, std::pair<std::vector<bool>, int64_t>> seen;  // "<receiver>\n<sender>"

  void OnFrame(Client& client, std::string_view text, bool track_messages) {
    if (text.starts_with(R"({"groupEvent":)")) {
      if (text.find("KIND_MESSAGE") == std::string_view::npos) return;
      std::string_view payload = Member(text, R"("Data":")");
      std::string_view fields[3];
      for (auto& field : fields) {
        size_t space = payload.find(' ');
        field = payload.substr(0, space);
        payload = space == std::string_view::npos ? std::string_view{} : payload.substr(space + 1);
      }
      int64_t counter = -1, sent = 0;
      std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), counter);
      std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), sent);
      if (fields[0].empty() || counter < 0) return;
      auto& [bits, highest] = seen[client.user() + "\n" + std::string(fields[0])];
      if (bits.size() <= static_cast<size_t>(counter)) bits.resize(counter * 2 + 64);
      if (bits[counter]) {
        ++duplicated;
        return;
      }
      bits[counter] = true;
      if (counter < highest) ++reordered;
      highest = std::max(highest, counter);
      ++delivered;
      double ms = (NowNanos() - sent) / 1e6;
      latencies_ms.push_back(ms);
      if (track_messages) {
        auto& m = per_message[{std::string(fields[0]), counter}];
        ++m.first;
        m.second = std::max(m.second, ms);
      }
      return;
    }
    if (text.find(R"("groupSendAck")") != std::string_view::npos ||
        text.find(R"("apiResult")") != std::string_view::npos) {
      ++acked;
    } else if (text.find(R"("error")") != std::string_view::npos) {
      if (send_errors++ < 3) std::cerr << client.user() << ": " << text << "\n";
    }
  }

  void Print(uint64_t expected_deliveries, double seconds) {
    uint64_t lost = expected_deliveries > delivered ? expected_deliveries - delivered : 0;
    std::printf("delivered: %llu of %llu  deliveries/s: %.0f\n",
                static_cast<unsigned long long>(delivered),
                static_cast<unsigned long long>(expected_deliveries), delivered / seconds);
    std::printf("latency ms per delivery: p50 %.2f  p99 %.2f  max %.2f\n",
                Percentile(latencies_ms, 50), Percentile(latencies_ms, 99),
                Percentile(latencies_ms, 100));
    std::printf("lost: %llu  duplicated: %llu  reordered: %llu  send errors: %llu\n",
                static_cast<unsigned long long>(lost), static_cast<unsigned long long>(duplicated),
                static_cast<unsigned long long>(reordered),
                static_cast<unsigned long long>(send_errors));
  }
};

std::vector<std::string> Users(const Options& o, const std::string& tag, int n) {
  std::vector<std::string> users;
  for (int i = 0; i < n; ++i) users.push_back(o.prefix + tag + std::to_string(i));
  return users;
}

// Connects and logs in every user; exits the run if some cannot.
std::vector<std::shared_ptr<Client>> Connect(net::io_context& ioc, const Options& o,
                                             const std::vector<std::string>& users, Tally* tally,
                                             bool track_messages) {
  std::vector<std::shared_ptr<Client>> clients;
  int ready = 0;
  for (size_t i = 0; i < users.size(); ++i) {
    clients.push_back(std::make_shared<Client>(
        ioc, o.target, users[i], [tally, track_messages](Client& c, std::string_view text) {
          tally->OnFrame(c, text, track_messages);
        }));
    clients.back()->Start([&] { ++ready; });
    // The gateway bounds connections not logged in yet per address (500):
    // keep fewer than that waiting.
    RunUntil(ioc, [&] { return static_cast<int>(i + 1) - ready < 200; }, std::chrono::seconds(30));
  }
  RunUntil(ioc, [&] { return ready == static_cast<int>(users.size()); }, std::chrono::seconds(60));
  if (ready < static_cast<int>(users.size())) {
    std::cerr << "only " << ready << " of " << users.size() << " logged in\n";
    std::exit(1);
  }
  return clients;
}

// Warm-up, not counted: every sender sends one message, so the services'
// per-group caches are filled and the figures show the steady state.
void WarmUp(net::io_context& ioc, const std::vector<std::pair<Client*, std::string>>& senders,
            Tally* tally) {
  for (const auto& [client, group] : senders) client->SendGroup(group);
  RunUntil(ioc, [&] { return tally->acked + tally->send_errors >= senders.size(); },
           std::chrono::seconds(60));
  ioc.run_for(std::chrono::milliseconds(500));  // the last deliveries
  std::printf("warm-up: %llu of %zu sent\n", static_cast<unsigned long long>(tally->acked),
              senders.size());
  *tally = Tally{};
}

// Sends from `senders` (round robin, each to its group) at `rate` for
// `seconds`; returns how many were sent.
uint64_t Drive(net::io_context& ioc, std::vector<std::pair<Client*, std::string>> senders,
               int rate, int seconds) {
  auto start = Clock::now();
  auto end = start + std::chrono::seconds(seconds);
  uint64_t planned = 0;
  size_t next = 0;
  while (Clock::now() < end) {
    uint64_t due = static_cast<uint64_t>(
        std::chrono::duration<double>(Clock::now() - start).count() * rate);
    for (; planned < due; ++planned) {
      senders[next].first->SendGroup(senders[next].second);
      next = (next + 1) % senders.size();
    }
    ioc.run_for(std::chrono::milliseconds(1));
  }
  return planned;
}

int Fanout(const Options& o, Rest& rest) {
  auto users = Users(o, "f", o.members);
  rest.Import(users);
  std::string group = MakeGroup(rest, "Private", users);
  net::io_context ioc;
  auto guard = net::make_work_guard(ioc);
  Tally tally;
  auto clients = Connect(ioc, o, users, &tally, false);
  std::vector<std::pair<Client*, std::string>> senders;
  for (auto& c : clients) senders.push_back({c.get(), group});
  WarmUp(ioc, senders, &tally);
  CpuMeter cpu(o.cpu);
  auto start = Clock::now();
  uint64_t sent = Drive(ioc, senders, o.rate, o.seconds);
  uint64_t expected = sent * users.size();
  RunUntil(ioc, [&] { return tally.delivered >= expected && tally.acked + tally.send_errors >= sent; },
           std::chrono::seconds(15));
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("fanout: a Work group of %d members, all online, %d msg/s for %d s\n", o.members,
              o.rate, o.seconds);
  std::printf("sent: %llu  acked: %llu\n", static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(tally.acked));
  tally.Print(expected, seconds);
  cpu.Print(tally.delivered, "delivery");
  return tally.delivered < expected || tally.duplicated || tally.reordered ? 1 : 0;
}

int ManyGroups(const Options& o, Rest& rest) {
  auto owners = Users(o, "o", o.groups);
  auto others = Users(o, "m", o.members - 1);  // the same members in every group
  rest.Import(owners);
  rest.Import(others);
  std::vector<std::string> groups;
  for (const auto& owner : owners) {
    std::vector<std::string> members = {owner};
    members.insert(members.end(), others.begin(), others.end());
    groups.push_back(MakeGroup(rest, "Public", members));
  }
  net::io_context ioc;
  auto guard = net::make_work_guard(ioc);
  Tally tally;
  auto clients = Connect(ioc, o, owners, &tally, false);
  std::vector<std::pair<Client*, std::string>> senders;
  for (size_t i = 0; i < clients.size(); ++i) senders.push_back({clients[i].get(), groups[i]});
  WarmUp(ioc, senders, &tally);
  CpuMeter cpu(o.cpu);
  auto start = Clock::now();
  uint64_t sent = Drive(ioc, senders, o.rate, o.seconds);
  double send_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  RunUntil(ioc, [&] { return tally.acked + tally.send_errors >= sent && tally.delivered >= sent; },
           std::chrono::seconds(30));
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("groups: %d groups of %d members, one online sender each, %d msg/s for %d s\n",
              o.groups, o.members, o.rate, o.seconds);
  std::printf("sent: %llu  stored (acked): %llu  stored/s: %.0f (over the send window %.0f)\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(tally.acked),
              tally.acked / seconds, std::min<double>(tally.acked, sent) / send_seconds);
  tally.Print(sent, seconds);  // each sender receives its own message
  cpu.Print(tally.acked, "stored message");
  return tally.delivered < sent || tally.duplicated || tally.reordered ? 1 : 0;
}

int Big(const Options& o, Rest& rest) {
  auto users = Users(o, "b", o.members);
  rest.Import(users);
  std::string group = MakeGroup(rest, "Public", users);
  int online = o.online > 0 ? std::min(o.online, o.members) : o.members;
  std::vector<std::string> online_users(users.begin(), users.begin() + online);
  net::io_context ioc;
  auto guard = net::make_work_guard(ioc);
  Tally tally;
  auto clients = Connect(ioc, o, online_users, &tally, true);
  // One message at a time, 200 ms apart, from the owner.
  auto start = Clock::now();
  for (int i = 0; i < o.messages; ++i) {
    clients[0]->SendGroup(group);
    ioc.run_for(std::chrono::milliseconds(200));
  }
  uint64_t expected = static_cast<uint64_t>(o.messages) * online;
  RunUntil(ioc, [&] { return tally.delivered >= expected; }, std::chrono::seconds(15));
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all_have;
  for (const auto& [key, m] : tally.per_message) {
    if (m.first == online) all_have.push_back(m.second);
  }
  std::printf("big: a Public group of %d members, %d online, %d messages one at a time\n",
              o.members, online, o.messages);
  std::printf("time until every online member has a message, ms: p50 %.1f  p99 %.1f  max %.1f"
              "  (%zu of %d messages reached all)\n",
              Percentile(all_have, 50), Percentile(all_have, 99), Percentile(all_have, 100),
              all_have.size(), o.messages);
  tally.Print(expected, seconds);
  return tally.delivered < expected || tally.duplicated || tally.reordered ? 1 : 0;
}

int Catchup(const Options& o, Rest& rest) {
  std::string owner = o.prefix + "cowner";
  std::string user = o.prefix + "cuser";
  rest.Import({owner, user});
  std::vector<std::string> groups;
  for (int i = 0; i < o.groups; ++i) groups.push_back(MakeGroup(rest, "Public", {owner, user}));
  // While the user is away, one message in every group.
  for (size_t i = 0; i < groups.size(); ++i) {
    rest.Must("group_open_http_svc/send_group_msg",
              {{"GroupId", groups[i]}, {"From_Account", owner}, {"Random", i + 1},
               {"MsgBody", {{{"MsgType", "TIMTextElem"}, {"MsgContent", {{"Text", "news"}}}}}}});
  }
  net::io_context ioc;
  auto guard = net::make_work_guard(ioc);
  std::map<std::string, std::string> answers;  // id -> frame
  auto client = std::make_shared<Client>(ioc, o.target, user, [&](Client&, std::string_view text) {
    json frame = json::parse(text, nullptr, false);
    if (frame.is_object() && frame.contains("id")) answers[frame["id"]] = std::string(text);
  });
  auto login_start = Clock::now();
  bool ready = false;
  client->Start([&] { ready = true; });
  RunUntil(ioc, [&] { return ready; }, std::chrono::seconds(30));
  double login_ms = std::chrono::duration<double, std::milli>(Clock::now() - login_start).count();
  // One call: every group's head and the user's read position.
  auto states_start = Clock::now();
  client->Send(R"({"id":"states","groupStates":{}})");
  RunUntil(ioc, [&] { return answers.count("states") > 0; }, std::chrono::seconds(30));
  double states_ms = std::chrono::duration<double, std::milli>(Clock::now() - states_start).count();
  json states = json::parse(answers["states"], nullptr, false);
  std::vector<std::pair<std::string, uint64_t>> news;  // group, read seq
  for (const auto& g : states["groupStates"]["groups"]) {
    uint64_t max_seq = std::stoull(g.value("maxSeq", std::string("0")));
    uint64_t read_seq = std::stoull(g.value("readSeq", std::string("0")));
    if (max_seq > read_seq) news.push_back({g["groupId"], read_seq});
  }
  // Then the missed events of every group with news, in one call.
  auto fetch_start = Clock::now();
  json cursors = json::array();
  for (const auto& [group, read_seq] : news) {
    cursors.push_back({{"groupId", group}, {"afterSeq", std::to_string(read_seq)}});
  }
  client->Send(json({{"id", "ranges"}, {"groupRanges", {{"cursors", cursors}}}}).dump());
  RunUntil(ioc, [&] { return answers.count("ranges") > 0; }, std::chrono::seconds(60));
  double fetch_ms = std::chrono::duration<double, std::milli>(Clock::now() - fetch_start).count();
  size_t messages = 0;
  json ranges = json::parse(answers["ranges"], nullptr, false);
  for (const auto& range : ranges["groupRanges"]["ranges"]) {
    for (const auto& e : range.value("events", json::array())) {
      if (e.value("Kind", "") == "KIND_MESSAGE") ++messages;
    }
  }
  std::printf("catchup: a user in %d groups, one message in each while away\n", o.groups);
  std::printf("login: %.1f ms\n", login_ms);
  std::printf("calls to learn what changed: 1 (groupStates), %.1f ms; groups with news: %zu\n",
              states_ms, news.size());
  std::printf("fetching it: 1 call (groupRanges for %zu groups), %.1f ms; messages fetched: %zu "
              "of %d\n",
              news.size(), fetch_ms, messages, o.groups);
  return messages == static_cast<size_t>(o.groups) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  int64_t sdkappid = static_cast<int64_t>(o.sdkappid);
  parley::config::Config config("parley-group-loadgen", "group messaging figures");
  config.Add("mode", "PARLEY_GROUPGEN_MODE", &o.mode, "fanout, groups, big or catchup");
  config.Add("host", "PARLEY_LOADGEN_HOST", &o.host, "gateway host");
  config.Add("port", "PARLEY_LOADGEN_PORT", &o.port, "gateway HTTP port");
  config.Add("sdkappid", "PARLEY_SDKAPPID", &sdkappid, "app");
  config.Add("secret-key", "PARLEY_SECRET_KEY", &o.key, "the app's secret key");
  config.Add("admin", "PARLEY_ADMIN_ID", &o.admin, "the app admin's identifier");
  config.Add("prefix", "PARLEY_LOADGEN_PREFIX", &o.prefix, "user id prefix (fresh per run)");
  config.Add("members", "PARLEY_GROUPGEN_MEMBERS", &o.members, "members per group");
  config.Add("online", "PARLEY_GROUPGEN_ONLINE", &o.online, "big: members online (0: all)");
  config.Add("groups", "PARLEY_GROUPGEN_GROUPS", &o.groups, "groups (groups, catchup)");
  config.Add("rate", "PARLEY_LOADGEN_RATE", &o.rate, "messages per second, all senders");
  config.Add("seconds", "PARLEY_LOADGEN_SECONDS", &o.seconds, "how long to send");
  config.Add("messages", "PARLEY_GROUPGEN_MESSAGES", &o.messages, "big: messages sent");
  config.Add("cpu", "PARLEY_LOADGEN_CPU", &o.cpu,
             "name=pid,... whose CPU time per message to print");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  o.sdkappid = static_cast<uint64_t>(sdkappid);
  o.target = {o.host, o.port, o.sdkappid, o.key};
  if (o.members < 2 || o.groups < 1 || o.rate < 1 || o.seconds < 1 || o.messages < 1) {
    std::cerr << "--members must be at least 2; --groups, --rate, --seconds, --messages at least 1\n";
    return 2;
  }
  if (o.key.empty()) {
    std::cerr << "--secret-key is required\n";
    return 2;
  }
  Rest rest(o.target, o.admin);
  if (o.mode == "fanout") return Fanout(o, rest);
  if (o.mode == "groups") return ManyGroups(o, rest);
  if (o.mode == "big") return Big(o, rest);
  if (o.mode == "catchup") return Catchup(o, rest);
  std::cerr << "--mode must be fanout, groups, big or catchup\n";
  return 2;
}
