// What the client-protocol load generators share: a clock, percentiles, REST
// calls as the app admin (setup), the CPU time of the processes under test
// and running an io_context until a condition holds.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "bench_socket.h"
#include "parley/usersig/usersig.h"
#include "proc_stats.h"

namespace parley::bench {

// CLOCK_MONOTONIC: one clock for every process on the machine, so a sender
// and receivers in other processes can measure latency.
inline int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

// REST as the app admin, one connection per call (setup only).
class Rest {
 public:
  Rest(const Target& target, std::string admin) : target_(target), admin_(std::move(admin)) {}

  nlohmann::json Call(const std::string& endpoint, const nlohmann::json& body) {
    namespace http = boost::beast::http;
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::resolver resolver(ioc);
    boost::beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve(target_.host, std::to_string(target_.port)));
    std::string url = "/v4/" + endpoint + "?sdkappid=" + std::to_string(target_.sdkappid) +
                      "&identifier=" + admin_ + "&usersig=" + Sig() +
                      "&random=" + std::to_string(++random_) + "&contenttype=json";
    http::request<http::string_body> request{http::verb::post, url, 11};
    request.set(http::field::host, target_.host);
    request.set(http::field::content_type, "application/json");
    request.body() = body.dump();
    request.prepare_payload();
    http::write(stream, request);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    boost::beast::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    return nlohmann::json::parse(response.body(), nullptr, false);
  }

  // Fails the run unless the answer is a success.
  nlohmann::json Must(const std::string& endpoint, const nlohmann::json& body) {
    nlohmann::json answer = Call(endpoint, body);
    // Over the app's per-command limit (60007): wait for the next second.
    for (int i = 0; i < 20 && answer.is_object() && answer.value("ErrorCode", 0) == 60007; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      answer = Call(endpoint, body);
    }
    if (!answer.is_object() || answer.value("ErrorCode", -1) != 0) {
      std::cerr << endpoint << " failed: " << answer.dump() << "\n";
      std::exit(2);
    }
    return answer;
  }

  void Import(const std::vector<std::string>& users) {
    for (size_t i = 0; i < users.size(); i += 100) {
      std::vector<std::string> chunk(users.begin() + i,
                                     users.begin() + std::min(users.size(), i + 100));
      Must("im_open_login_svc/multiaccount_import", {{"Accounts", chunk}});
    }
  }

 private:
  std::string Sig() {
    if (sig_.empty()) {
      sig_ = parley::usersig::Generate(target_.key, target_.sdkappid, admin_, std::time(nullptr));
    }
    return sig_;
  }
  const Target& target_;
  std::string admin_;
  std::string sig_;
  uint64_t random_ = 0;
};

// CPU time of the processes under test over a phase, per unit of work.
class CpuMeter {
 public:
  explicit CpuMeter(const std::string& list)
      : processes_(ParseProcessList(list)), before_(TicksOf(processes_)) {}
  void Print(uint64_t units, const char* what) {
    if (units == 0) return;
    auto after = TicksOf(processes_);
    double ms_per_tick = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
    double total = 0;
    std::printf("cpu ms per %s:", what);
    for (size_t i = 0; i < processes_.size(); ++i) {
      double ms = double(after[i] - before_[i]) * ms_per_tick / double(units);
      total += ms;
      std::printf("  %s %.3f", processes_[i].first.c_str(), ms);
    }
    std::printf("  total %.3f\n", total);
  }
  // Each process's CPU use over the phase, as a share of one core.
  void PrintShare(double seconds) {
    auto after = TicksOf(processes_);
    double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
    std::printf("cpu, cores busy:");
    for (size_t i = 0; i < processes_.size(); ++i) {
      std::printf("  %s %.2f", processes_[i].first.c_str(),
                  double(after[i] - before_[i]) / ticks_per_second / seconds);
    }
    std::printf("\n");
  }

 private:
  std::vector<std::pair<std::string, int>> processes_;
  std::vector<uint64_t> before_;
};

inline void RunUntil(boost::asio::io_context& ioc, const std::function<bool()>& done,
                     std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    ioc.run_for(std::chrono::milliseconds(10));
  }
}

}  // namespace parley::bench
