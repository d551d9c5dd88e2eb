#include <catch2/catch.hpp>
#include <mutex>
#include <thread>
#include <vector>

#include "parley/http/server.h"
#include "support/http_client.h"

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
