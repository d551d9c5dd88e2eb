// A callback receiver for bench/callback_bench.sh. It points the app's
// callbacks at itself (parley.v1.WebhookService/UpdateSettings), answers
// every callback with ErrorCode 0 and prints what it received.
//
//   serve: enable --commands for --seconds, then turn callbacks off again.
//   point: set the app's callback URL to --url with --commands enabled and
//          exit (bench/message_bench.sh against a dead URL).
//   drain: enable C2C.CallbackAfterSendMsg, queue --events synthetic
//          after-events straight into the Redis stream and time how fast
//          parley-callback delivers them all. With --max-backlog N it keeps
//          at most N undelivered events queued (a soak: millions of events
//          through a live receiver), and it prints Redis used_memory before,
//          at its peak and after the run, with the queue stream's length.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"
#include "parley/callbacks/callbacks.h"
#include "parley/config/config.h"
#include "parley/http/server.h"
#include "parley/redis/pool.h"
#include "parley/rpc/client.h"
#include "parley/rpc/tls.h"
#include "parley/v1/callback.grpc.pb.h"

namespace {

bool Configure(const std::string& target, uint64_t sdkappid, const std::string& url,
               const std::vector<std::string>& commands) {
  // UpdateSettings is an operator RPC: the operator certificate calls it.
  auto stub =
      parley::v1::WebhookService::NewStub(parley::rpc::MakeChannel(target, "callback"));
  parley::v1::CallbackSettings update, answer;
  update.set_sdkappid(sdkappid);
  update.set_url(url);
  update.set_enable_all(false);
  update.set_set_enabled_commands(true);
  for (const auto& c : commands) update.add_enabled_commands(c);
  grpc::ClientContext context;
  auto status = stub->UpdateSettings(&context, update, &answer);
  if (!status.ok()) std::fprintf(stderr, "UpdateSettings: %s\n", status.error_message().c_str());
  return status.ok();
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "serve";
  std::string target = "127.0.0.1:7055";
  std::string redis_addr = "127.0.0.1:16379";
  std::string commands = "C2C.CallbackBeforeSendMsg";
  int64_t sdkappid = 1400000000;
  int seconds = 20;
  int events = 20000;
  int max_backlog = 0;
  std::string point_url;
  std::string tls_dir;
  parley::config::Config config("callback_sink", "A callback receiver for benchmarks.");
  config.Add("mode", "", &mode, "serve, drain or point");
  config.Add("url", "", &point_url, "point mode: the callback URL to set (empty: off)");
  config.Add("callback-target", "", &target, "parley-callback's gRPC address");
  config.Add("redis", "", &redis_addr, "Redis (drain mode)");
  config.Add("commands", "", &commands, "comma-separated commands to enable (serve mode)");
  config.Add("sdkappid", "", &sdkappid, "the app");
  config.Add("seconds", "", &seconds, "how long to serve");
  config.Add("events", "", &events, "after-events to queue (drain mode)");
  config.Add("max-backlog", "", &max_backlog,
             "drain mode: at most this many undelivered events queued (0: all at once)");
  config.Add("tls-dir", "PARLEY_TLS_DIR", &tls_dir, "directory of ca.crt and operator.crt/.key");
  if (auto exit_code = config.ParseForMain(argc, argv)) return *exit_code;
  if (auto st = parley::rpc::InitTls({tls_dir, "operator"}); !st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    return 2;
  }

  std::atomic<int64_t> received{0};
  parley::http::ServerOptions options;
  options.address = "127.0.0.1:0";
  options.threads = 2;
  parley::http::Server server(options, [&](parley::http::Request, parley::http::Responder respond) {
    received.fetch_add(1);
    respond({200, "application/json", R"({"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""})",
             false});
  });
  if (!server.Start().ok()) return 1;
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/callback";
  auto app = static_cast<uint64_t>(sdkappid);

  if (mode == "point") {
    // Points the app's callbacks at --url (a dead one, to measure what a down
    // backend costs) with --commands enabled; an empty --url turns them off.
    std::vector<std::string> list = absl::StrSplit(commands, ',', absl::SkipEmpty());
    return Configure(target, static_cast<uint64_t>(sdkappid), point_url, list) ? 0 : 1;
  }

  if (mode == "serve") {
    std::vector<std::string> list = absl::StrSplit(commands, ',');
    if (!Configure(target, app, url, list)) return 1;
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    Configure(target, app, "", {});
    std::printf("callbacks received: %lld\n", static_cast<long long>(received.load()));
    return 0;
  }

  if (!Configure(target, app, url, {"C2C.CallbackAfterSendMsg"})) return 1;
  auto redis_options = parley::redis::Pool::ParseAddress(redis_addr);
  if (!redis_options.ok()) return 1;
  auto redis = parley::redis::Pool::Create(*redis_options);
  if (!redis.ok()) return 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // settings reach every replica
  auto used_memory = [&]() -> int64_t {
    auto info = (*redis)->Command({"INFO", "memory"});
    if (!info.ok()) return -1;
    std::string text = info->str();
    size_t at = text.find("used_memory:");
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + 12));
  };
  int64_t memory_before = used_memory();
  int64_t memory_peak = memory_before;
  nlohmann::json payload = {{"From_Account", "bench_a"}, {"To_Account", "bench_b"},
                            {"MsgBody", {{{"MsgType", "TIMTextElem"},
                                          {"MsgContent", {{"Text", "hello"}}}}}}};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<std::string>> batch;
  for (int i = 0; i < events; ++i) {
    parley::callbacks::Event event{app, "C2C.CallbackAfterSendMsg", payload.dump(), "RESTAPI", "",
                                   0, 0, ""};
    batch.push_back({"XADD", parley::callbacks::kQueueStream, "*", "m",
                     parley::callbacks::EncodeEvent(event)});
    if (batch.size() == 500 || i + 1 == events) {
      if (!(*redis)->Pipeline(batch).ok()) return 1;
      batch.clear();
      while (max_backlog > 0 && i + 1 - received.load() > max_backlog) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if ((i + 1) % 50000 < 500) memory_peak = std::max(memory_peak, used_memory());
    }
  }
  auto deadline = start + std::chrono::seconds(seconds);
  while (received.load() < events && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  Configure(target, app, "", {});
  std::printf("after-callbacks delivered: %lld of %d in %.2f s: %.0f/s\n",
              static_cast<long long>(received.load()), events, took.count(),
              received.load() / took.count());
  // parley-callback trims consumed entries every PARLEY_CALLBACK_TRIM_INTERVAL_MS.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto length = (*redis)->Command({"XLEN", parley::callbacks::kQueueStream});
  std::printf("redis used_memory: before %.1f MB, peak %.1f MB, after %.1f MB (%+.1f MB); "
              "%s entries left: %lld\n",
              memory_before / 1e6, memory_peak / 1e6, used_memory() / 1e6,
              (used_memory() - memory_before) / 1e6, parley::callbacks::kQueueStream,
              length.ok() ? static_cast<long long>(length->integer()) : -1LL);
  return 0;
}
