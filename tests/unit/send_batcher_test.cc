// The gateway's SendBatcher against an in-process MessageService that
// records each SendFromClients call and answers as each test tells it to.
#include "send_batcher.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"
#include "parley/rpc/caller.h"

using parley::gateway::SendBatcher;
using parley::gateway::SendBatcherOptions;

namespace {

class FakeMessageService : public parley::v1::MessageService::Service {
 public:
  grpc::Status SendFromClients(grpc::ServerContext* context,
                               const parley::v1::SendFromClientsRequest* request,
                               parley::v1::SendFromClientsResponse* response) override {
    std::unique_lock lock(mu_);
    std::vector<std::string> call;
    for (const auto& send : request->sends()) {
      call.push_back(send.user_id() + ":" + send.request().client_msg_id());
    }
    calls_.push_back(std::move(call));
    auto caller = parley::rpc::GetCaller(*context);
    callers_.push_back(caller.ok() ? absl::StrCat(caller->sdkappid, " ", caller->identifier, " ",
                                                  caller->is_admin ? "admin" : "user")
                                   : "no caller");
    changed_.notify_all();
    changed_.wait(lock, [&] { return !hold_; });
    if (!failure_.ok()) return failure_;
    for (int i = 0; i < request->sends_size() - missing_outcomes_; ++i) {
      auto* outcome = response->add_outcomes();
      if (i == 1 && rejected_second_) {
        outcome->set_error_code(20003);
        outcome->set_error_info("not yours");
      } else {
        outcome->mutable_response()->set_msg_key(request->sends(i).request().client_msg_id());
      }
    }
    return grpc::Status::OK;
  }

  // Calls wait in SendFromClients while held.
  void Hold(bool hold) {
    std::lock_guard lock(mu_);
    hold_ = hold;
    changed_.notify_all();
  }
  void WaitForCalls(size_t count) {
    std::unique_lock lock(mu_);
    REQUIRE(
        changed_.wait_for(lock, std::chrono::seconds(5), [&] { return calls_.size() >= count; }));
  }
  void FailWith(grpc::Status status) { failure_ = std::move(status); }
  void LeaveOutLastOutcomes(int count) { missing_outcomes_ = count; }
  void RejectSecond() { rejected_second_ = true; }
  std::vector<std::vector<std::string>> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<std::string> callers() {
    std::lock_guard lock(mu_);
    return callers_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool hold_ = false;
  grpc::Status failure_;
  int missing_outcomes_ = 0;
  bool rejected_second_ = false;
  std::vector<std::vector<std::string>> calls_;
  std::vector<std::string> callers_;
};

// The answers SendBatcher gives, in the order they come.
class Answers {
 public:
  SendBatcher::Done Add(std::string name) {
    return [this, name](absl::StatusOr<parley::v1::SendC2CResponse> answer) {
      std::lock_guard lock(mu_);
      answers_.emplace_back(name, std::move(answer));
      changed_.notify_all();
    };
  }
  std::vector<std::pair<std::string, absl::StatusOr<parley::v1::SendC2CResponse>>> WaitFor(
      size_t count) {
    std::unique_lock lock(mu_);
    REQUIRE(
        changed_.wait_for(lock, std::chrono::seconds(5), [&] { return answers_.size() >= count; }));
    return answers_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::pair<std::string, absl::StatusOr<parley::v1::SendC2CResponse>>> answers_;
};

struct Harness {
  explicit Harness(SendBatcherOptions options) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    REQUIRE(server);
    stub = parley::v1::MessageService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
    batcher = std::make_unique<SendBatcher>(stub.get(), options);
  }
  ~Harness() {
    service.Hold(false);
    server->Shutdown();
  }
  void Send(uint64_t sdkappid, const std::string& user, const std::string& id) {
    parley::v1::SendC2CRequest request;
    request.set_client_msg_id(id);
    batcher->Send({sdkappid, user, false, "Web", "127.0.0.1"}, request, answers.Add(id));
  }
  // App 1's `first` goes out alone and is held in the service while `queued`
  // (user, id) wait for it; then the service answers.
  void SendBehindHeldCall(const std::string& first,
                          const std::vector<std::pair<std::string, std::string>>& queued) {
    service.Hold(true);
    Send(1, "alice", first);
    service.WaitForCalls(1);
    for (const auto& [user, id] : queued) Send(1, user, id);
    service.Hold(false);
  }

  FakeMessageService service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<parley::v1::MessageService::Stub> stub;
  std::unique_ptr<SendBatcher> batcher;
  Answers answers;
};

std::vector<std::string> Names(
    const std::vector<std::pair<std::string, absl::StatusOr<parley::v1::SendC2CResponse>>>& all) {
  std::vector<std::string> names;
  for (const auto& [name, answer] : all) names.push_back(name);
  return names;
}

}  // namespace

TEST_CASE("send batcher: sends wait for a free call and ride together, split by app and size",
          "[send_batcher]") {
  SendBatcherOptions options;
  options.max_in_flight = 1;
  options.max_sends_per_call = 2;
  Harness h(options);
  h.service.Hold(true);
  h.Send(1, "alice", "a1");  // goes out at once and is held
  h.service.WaitForCalls(1);
  h.Send(1, "alice", "a2");
  h.Send(1, "bob", "b1");
  h.Send(1, "alice", "a3");
  h.Send(2, "carol", "c1");  // another app: a call of its own
  h.service.Hold(false);
  auto answers = h.answers.WaitFor(5);
  for (const auto& [name, answer] : answers) {
    REQUIRE(answer.ok());
    CHECK(answer->msg_key() == name);
  }
  auto calls = h.service.calls();
  // The first answer frees the pending limit; what waited goes out at once,
  // one call per app and at most two sends per call.
  REQUIRE(calls.size() == 4);
  CHECK(calls[0] == std::vector<std::string>{"alice:a1"});
  std::vector<std::vector<std::string>> rest(calls.begin() + 1, calls.end());
  std::sort(rest.begin(), rest.end());
  CHECK(rest ==
        std::vector<std::vector<std::string>>{{"alice:a2", "bob:b1"}, {"alice:a3"}, {"carol:c1"}});
  // Every call names its app and is made as the gateway, an internal caller.
  auto callers = h.service.callers();
  for (size_t i = 0; i < calls.size(); ++i) {
    bool carols = calls[i][0].rfind("carol:", 0) == 0;
    CHECK(callers[i] == (carols ? "2 parley-gateway admin" : "1 parley-gateway admin"));
  }
}

TEST_CASE("send batcher: each send gets its own outcome", "[send_batcher]") {
  SendBatcherOptions options;
  options.max_in_flight = 1;
  Harness h(options);
  h.service.RejectSecond();
  h.SendBehindHeldCall("first", {{"alice", "second"}, {"bob", "third"}, {"bob", "fourth"}});
  auto answers = h.answers.WaitFor(4);
  CHECK(Names(answers) == std::vector<std::string>{"first", "second", "third", "fourth"});
  CHECK(answers[0].second.ok());
  // The second call's second send was refused; its neighbours were not.
  CHECK(answers[1].second.ok());
  REQUIRE_FALSE(answers[2].second.ok());
  CHECK(parley::errors::TencentCode(answers[2].second.status()) == 20003);
  CHECK(answers[2].second.status().message() == "not yours");
  CHECK(answers[3].second.ok());
}

TEST_CASE("send batcher: a failed call fails each of its sends with the mapped code",
          "[send_batcher]") {
  SendBatcherOptions options;
  options.max_in_flight = 1;
  Harness h(options);
  SECTION("the message service is unavailable: 60008, the retry-later code") {
    h.service.FailWith(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
    h.SendBehindHeldCall("x", {{"bob", "y"}, {"bob", "z"}});
    auto answers = h.answers.WaitFor(3);
    for (const auto& [name, answer] : answers) {
      REQUIRE_FALSE(answer.ok());
      CHECK(parley::errors::TencentCode(answer.status(), 20005) == 60008);
    }
    CHECK(h.service.calls().size() == 2);  // no resend: the sessions answer their clients
  }
  SECTION("the call was refused with a Tencent code: every send gets that code") {
    h.service.FailWith(parley::errors::ToGrpc(parley::errors::Error(90009, "internal only")));
    h.Send(1, "alice", "x");
    auto answers = h.answers.WaitFor(1);
    REQUIRE_FALSE(answers[0].second.ok());
    CHECK(parley::errors::TencentCode(answers[0].second.status()) == 90009);
  }
  SECTION("an answer without an outcome for a send is an internal error without a code") {
    h.service.LeaveOutLastOutcomes(1);
    h.SendBehindHeldCall("x", {{"alice", "y"}, {"alice", "z"}});
    auto answers = h.answers.WaitFor(3);
    // Call 1 ("x") lost its only outcome; call 2 lost the outcome of "z".
    CHECK_FALSE(answers[0].second.ok());
    CHECK(answers[1].second.ok());
    REQUIRE_FALSE(answers[2].second.ok());
    CHECK(parley::errors::TencentCode(answers[2].second.status(), 20005) == 20005);
  }
}
