// parley::http::Client against a real server on loopback, and against a TLS
// server whose certificate is not trusted.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "parley/http/client.h"
#include "parley/http/server.h"
#include "support/process.h"

using namespace std::chrono_literals;
using parley::http::Client;

namespace {

std::unique_ptr<parley::http::Server> EchoServer() {
  parley::http::ServerOptions options;
  options.address = "127.0.0.1:0";
  auto server = std::make_unique<parley::http::Server>(
      options, [](parley::http::Request request, parley::http::Responder respond) {
        if (request.path == "/slow") std::this_thread::sleep_for(500ms);
        respond({200, "application/json", "{\"echo\":" + request.body + "}", false});
      });
  REQUIRE(server->Start().ok());
  return server;
}

}  // namespace

TEST_CASE("http client posts, reuses connections and keeps its deadline", "[http]") {
  auto server = EchoServer();
  std::string base = "http://127.0.0.1:" + std::to_string(server->port());
  Client client;
  for (int i = 0; i < 3; ++i) {
    auto answer = client.Post(base + "/x?a=1", std::to_string(i), 2000ms);
    REQUIRE(answer.ok());
    CHECK(answer->status == 200);
    CHECK(answer->body == "{\"echo\":" + std::to_string(i) + "}");
  }
  CHECK(client.connections_opened() == 1);

  auto start = std::chrono::steady_clock::now();
  auto slow = client.Post(base + "/slow", "1", 100ms);
  CHECK(absl::IsDeadlineExceeded(slow.status()));
  CHECK(std::chrono::steady_clock::now() - start < 400ms);

  CHECK(absl::IsInvalidArgument(client.Post("ftp://x/", "", 100ms).status()));
  int closed = parley::testing::FreePort();
  CHECK(absl::IsUnavailable(
      client.Post("http://127.0.0.1:" + std::to_string(closed) + "/", "", 500ms).status()));

  // A server that went away and came back: the stale pooled connection is
  // replaced transparently.
  server->Stop();
  server = EchoServer();
  auto again = client.Post("http://127.0.0.1:" + std::to_string(server->port()) + "/", "7", 2000ms);
  REQUIRE(again.ok());
  CHECK(again->body == "{\"echo\":7}");
}

TEST_CASE("https client refuses a certificate it can't verify", "[http]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("parley-tls-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  std::string make = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " +
                     key + " -out " + cert + " >/dev/null 2>&1";
  REQUIRE(std::system(make.c_str()) == 0);
  int port = parley::testing::FreePort();
  parley::testing::Process tls_server(
      "/usr/bin/openssl", {}, (dir / "s_server.log").string(),
      {"s_server", "-accept", std::to_string(port), "-cert", cert, "-key", key, "-www", "-quiet"});
  Client client;
  absl::Status st;
  for (int i = 0; i < 50; ++i) {  // until s_server listens
    st = client.Post("https://127.0.0.1:" + std::to_string(port) + "/", "{}", 1000ms).status();
    if (st.message().find("connect") == absl::string_view::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(absl::IsUnavailable(st));
  CHECK(st.message().find("TLS handshake") != absl::string_view::npos);
  fs::remove_all(dir);
}
