#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "parley/http/server.h"
#include "support/http_client.h"
#include "support/ws_client.h"

using namespace parley;

TEST_CASE("query strings decode like forms - the first duplicate wins", "[http]") {
  auto q = http::ParseQuery("sdkappid=1400000000&identifier=a%20b+c&usersig=eJx*-_&x=1&x=2&%zz=&flag");
  CHECK(q["sdkappid"] == "1400000000");
  CHECK(q["identifier"] == "a b c");
  CHECK(q["usersig"] == "eJx*-_");
  CHECK(q["x"] == "1");
  CHECK(q["%zz"] == "");
  CHECK(q.count("flag") == 1);
}

TEST_CASE("host:port splitting", "[http]") {
  std::string host;
  int port = 0;
  CHECK(http::SplitHostPort("127.0.0.1:8080", &host, &port));
  CHECK(host == "127.0.0.1");
  CHECK(port == 8080);
  CHECK(http::SplitHostPort("[::1]:0", &host, &port));
  CHECK(host == "::1");
  CHECK_FALSE(http::SplitHostPort("nohost", &host, &port));
  CHECK_FALSE(http::SplitHostPort("h:99999", &host, &port));
}

TEST_CASE("the server keeps connections alive and answers later from another thread",
          "[http]") {
  http::ServerOptions options;
  options.address = "127.0.0.1:0";
  options.max_body_bytes = 1024;
  options.body_too_large = [](const http::Request&) {
    return http::Response{200, "text/plain", "too large", true};
  };
  // The answering threads are joined before the server goes: a Responder
  // must not outlive its server.
  std::mutex threads_mu;
  std::vector<std::thread> answering;
  http::Server server(options, [&](http::Request request, http::Responder respond) {
    std::lock_guard lock(threads_mu);
    answering.emplace_back([request, respond] {
      respond({200, "text/plain", request.method + " " + request.path + " " + request.body, false});
    });
  });
  REQUIRE(server.Start().ok());

  testing::HttpClient client(server.port());
  auto first = client.Send("POST", "/echo?x=1", "hello");
  CHECK(first.body == "POST /echo hello");
  CHECK(client.connection_open());
  auto second = client.Send("GET", "/again", "");
  CHECK(second.body == "GET /again ");
  CHECK(server.open_connections() == 1);

  SECTION("an oversized body is answered, then the connection closes") {
    auto big = client.Send("POST", "/big", std::string(100000, 'x'));
    CHECK(big.body == "too large");
    CHECK_FALSE(big.keep_alive);
  }
  SECTION("garbage gets a 400, not a crash") {
    std::string reply = testing::RawExchange(server.port(), "NOT HTTP AT ALL\r\n\r\n");
    CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(client.Send("GET", "/still-up", "").status == 200);
  }
  {
    std::lock_guard lock(threads_mu);
    for (auto& t : answering) t.join();
  }
  server.Stop();
}

namespace {

// Waits until `value()` is `want` (the server accepts on its own threads).
template <class Fn>
bool Eventually(Fn value, uint64_t want) {
  for (int i = 0; i < 200; ++i) {
    if (value() == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE("a head check answers before the body is read, and unauthenticated sockets are bounded",
          "[http]") {
  http::ServerOptions options;
  options.address = "127.0.0.1:0";
  options.max_unauthenticated_per_ip = 2;
  options.head_check = [](const http::Request& head, http::HeadDecision decide) {
    if (head.path == "/deny") return decide(http::Response{403, "text/plain", "denied\n", false});
    decide(std::nullopt);
  };
  std::atomic<int> handled{0};
  http::Server server(options, [&](http::Request request, http::Responder respond) {
    handled.fetch_add(1);
    respond({200, "text/plain", "body=" + std::to_string(request.body.size()), false});
  });
  REQUIRE(server.Start().ok());

  // Refused from the head alone: the 100 kB body it announces is never sent.
  auto start = std::chrono::steady_clock::now();
  std::string denied = testing::RawExchange(
      server.port(), "POST /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", 5000);
  CHECK(denied.rfind("HTTP/1.1 403", 0) == 0);
  CHECK(denied.find("Connection: close") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2500));
  CHECK(handled == 0);
  // Let through: the body is read and the handler runs.
  testing::HttpClient client(server.port());
  CHECK(client.Send("POST", "/ok", "12345").body == "body=5");
  CHECK(Eventually([&] { return server.unauthenticated_connections(); }, 0));

  // Two silent sockets fill this address's allowance; a third is closed at once.
  boost::asio::io_context ioc;
  auto silent = [&] {
    auto s = std::make_unique<boost::asio::ip::tcp::socket>(ioc);
    s->connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port())});
    return s;
  };
  auto first = silent();
  auto second = silent();
  REQUIRE(Eventually([&] { return server.unauthenticated_connections(); }, 2));
  CHECK(testing::RawExchange(server.port(), "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", 2000).empty());
  CHECK(server.refused_connections() == 1);
  // The authenticated connection was never counted: it still works.
  CHECK(client.Send("POST", "/ok", "").status == 200);
  // A silent socket goes away: there is room again.
  first->close();
  REQUIRE(Eventually([&] { return server.unauthenticated_connections(); }, 1));
  CHECK(testing::RawExchange(server.port(), "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                             2000)
            .rfind("HTTP/1.1 200", 0) == 0);
  server.Stop();
}

TEST_CASE("the total of unauthenticated sockets is bounded too", "[http]") {
  http::ServerOptions options;
  options.address = "127.0.0.1:0";
  options.max_unauthenticated = 1;
  options.head_check = [](const http::Request&, http::HeadDecision decide) { decide(std::nullopt); };
  http::Server server(options, [](http::Request, http::Responder respond) {
    respond({200, "text/plain", "ok", false});
  });
  REQUIRE(server.Start().ok());
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket silent(ioc);
  silent.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port())});
  REQUIRE(Eventually([&] { return server.unauthenticated_connections(); }, 1));
  CHECK(testing::RawExchange(server.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 2000).empty());
  silent.close();
  REQUIRE(Eventually([&] { return server.unauthenticated_connections(); }, 0));
  CHECK(testing::RawExchange(server.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                             2000)
            .rfind("HTTP/1.1 200", 0) == 0);
  server.Stop();
}

namespace {
// Floods its connection with frames the client never reads.
class Flooder : public http::WsHandler {
 public:
  explicit Flooder(std::shared_ptr<http::WsConnection> connection) : connection_(std::move(connection)) {}
  void OnMessage(std::string, bool) override {
    for (int i = 0; i < 400; ++i) connection_->Send(std::string(64 * 1024, 'x'), false);
  }
  void OnClose(bool) override {
    closed = true;
    connection_.reset();  // as sessions do: the connection goes with the server
  }
  std::atomic<bool> closed{false};

 private:
  std::shared_ptr<http::WsConnection> connection_;
};
}  // namespace

TEST_CASE("a WebSocket client that does not read is closed once its unread frames pass the bound",
          "[http]") {
  http::ServerOptions options;
  options.address = "127.0.0.1:0";
  options.ws_max_queued_bytes = 1 << 20;
  std::shared_ptr<Flooder> flooder;
  std::mutex mu;
  options.ws_accept = [&](std::shared_ptr<http::WsConnection> c, const http::Request&) {
    std::lock_guard lock(mu);
    flooder = std::make_shared<Flooder>(std::move(c));
    return std::shared_ptr<http::WsHandler>(flooder);
  };
  http::Server server(options, [](http::Request, http::Responder respond) {
    respond({200, "text/plain", "ok", false});
  });
  REQUIRE(server.Start().ok());
  {
    testing::WsClient client(server.port());
    client.SendText("go");  // 25 MB of frames for a client that reads none of them
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::lock_guard lock(mu);
      closed = flooder && flooder->closed;
    }
    CHECK(closed);
  }
  server.Stop();
}
