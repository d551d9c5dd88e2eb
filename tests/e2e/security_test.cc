// Internal gRPC security (docs/security.md): mutual TLS with the cluster CA,
// the per-method access table, who may act for users and admins, and where
// secrets may go.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"
#include "parley/rpc/client.h"
#include "parley/v1/auth.grpc.pb.h"
#include "parley/v1/callback.grpc.pb.h"
#include "parley/v1/message.grpc.pb.h"
#include "parley/v1/group.grpc.pb.h"
#include "parley/v1/group_message.grpc.pb.h"
#include "parley/v1/relationship.grpc.pb.h"
#include "support/e2e_helpers.h"
#include "support/test_cluster.h"
#include "support/tls.h"

using namespace parley::testing;
namespace v1 = parley::v1;

namespace {

constexpr auto kDeadline = std::chrono::milliseconds(5000);

std::unique_ptr<grpc::ClientContext> Context(const parley::rpc::Caller* caller = nullptr) {
  return parley::rpc::NewContext(caller, kDeadline);
}

int Code(const grpc::Status& status) {
  return parley::errors::TencentCode(parley::errors::FromGrpc(status), -1);
}

}  // namespace

TEST_CASE("internal gRPC takes only clients holding a certificate of the cluster CA",
          "[security]") {
  TestCluster c;
  const std::string auth = c.setting("PARLEY_AUTH_TARGET");
  auto list = [&](std::shared_ptr<grpc::Channel> channel) {
    v1::ListAppsResponse response;
    return v1::AuthService::NewStub(channel)->ListApps(Context().get(), {}, &response);
  };
  // The operator's certificate is let in.
  REQUIRE(list(TlsChannel(auth, "auth")).ok());
  // Plaintext, TLS without a client certificate, and a certificate of
  // another CA (an "operator" that is not ours) are refused.
  CHECK(list(grpc::CreateChannel(auth, grpc::InsecureChannelCredentials())).error_code() ==
        grpc::StatusCode::UNAVAILABLE);
  CHECK(list(TlsChannel(auth, "auth", "")).error_code() == grpc::StatusCode::UNAVAILABLE);
  std::string other_ca = TlsDir() + "-other-ca";
  REQUIRE(std::system(absl::StrCat(PARLEY_SOURCE_DIR, "/scripts/tls-certs '", other_ca,
                                   "' operator >/dev/null")
                          .c_str()) == 0);
  CHECK(list(TlsChannel(auth, "auth", "operator", other_ca)).error_code() ==
        grpc::StatusCode::UNAVAILABLE);
  // A client checks the server too: auth's port does not pass for message.
  CHECK(list(TlsChannel(auth, "message")).error_code() == grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("only the gateway's certificate acts for end users and app admins", "[security]") {
  TestCluster c;
  ImportAccounts(c, {"alice", "bob"});
  parley::rpc::Caller admin{c.sdkappid, c.admin, true};
  parley::rpc::Caller alice{c.sdkappid, "alice", false};
  v1::SendC2CRequest send;
  send.set_from_account("alice");
  send.set_to_account("bob");
  send.set_msg_random(7);
  auto* element = send.mutable_msg_body()->add_values()->mutable_struct_value()->mutable_fields();
  (*element)["MsgType"].set_string_value("TIMTextElem");
  (*(*element)["MsgContent"].mutable_struct_value()->mutable_fields())["Text"].set_string_value(
      "hi");

  const std::string message = c.setting("PARLEY_MESSAGE_TARGET");
  const std::string relationship = c.setting("PARLEY_RELATIONSHIP_TARGET");
  const std::string auth = c.setting("PARLEY_AUTH_TARGET");
  const std::string group = c.setting("PARLEY_GROUP_TARGET");
  v1::CreateGroupRequest create;
  create.set_type("Public");
  create.set_name("g");

  // The gateway may send as an admin and read a user's friends.
  {
    auto stub = v1::MessageService::NewStub(TlsChannel(message, "message", "gateway"));
    v1::SendC2CResponse response;
    CHECK(stub->SendC2C(Context(&admin).get(), send, &response).ok());
  }
  // Every other certificate is refused on the same RPCs, before the service
  // runs: as an admin or as a user, whatever the caller metadata claims.
  {
    auto stub = v1::GroupService::NewStub(TlsChannel(group, "group", "gateway"));
    v1::CreateGroupResponse response;
    CHECK(stub->CreateGroup(Context(&admin).get(), create, &response).ok());
  }
  for (const std::string identity : {"message", "relationship", "auth", "push", "callback",
                                     "group", "operator"}) {
    INFO(identity);
    auto messages = v1::MessageService::NewStub(TlsChannel(message, "message", identity));
    v1::SendC2CResponse sent;
    CHECK(messages->SendC2C(Context(&admin).get(), send, &sent).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    v1::SyncRequest sync;
    v1::SyncResponse synced;
    CHECK(messages->Sync(Context(&alice).get(), sync, &synced).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    auto friends = v1::RelationshipService::NewStub(
        TlsChannel(relationship, "relationship", identity));
    v1::FriendGetRequest get;
    get.set_from_account("alice");
    v1::FriendGetResponse got;
    CHECK(friends->FriendGet(Context(&admin).get(), get, &got).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    auto groups = v1::GroupService::NewStub(TlsChannel(group, "group", identity));
    v1::CreateGroupResponse created;
    CHECK(groups->CreateGroup(Context(&admin).get(), create, &created).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    auto group_messages =
        v1::GroupMessageService::NewStub(TlsChannel(message, "message", identity));
    v1::SendGroupRequest group_send;
    group_send.set_group_id("g");
    v1::SendGroupResponse group_sent;
    CHECK(group_messages->SendGroup(Context(&admin).get(), group_send, &group_sent).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
  }
  // Group tips come from the group service only: the gateway may not post
  // one, and the group service's internal RPCs refuse callers that are not
  // services (the gateway acting for an admin).
  {
    auto tips = v1::GroupMessageService::NewStub(TlsChannel(message, "message", "gateway"));
    v1::PostGroupTipRequest tip;
    tip.set_group_id("g");
    v1::PostGroupTipResponse posted;
    CHECK(tips->PostGroupTip(Context(&admin).get(), tip, &posted).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    auto groups = v1::GroupService::NewStub(TlsChannel(group, "group", "gateway"));
    v1::MemberContextRequest ask;
    ask.set_group_id("g");
    v1::MemberContext context;
    CHECK(Code(groups->GetMemberContext(Context(&admin).get(), ask, &context)) == 10007);
  }
  // On an RPC open to it, a service acts as itself: claiming an admin or a
  // user is refused (60010), its own service identity is served.
  auto exists = v1::AuthService::NewStub(TlsChannel(auth, "auth", "message"));
  v1::AccountsExistRequest request;
  request.add_user_ids("alice");
  request.add_user_ids("nobody");
  v1::AccountsExistResponse response;
  CHECK(Code(exists->AccountsExist(Context(&admin).get(), request, &response)) ==
        parley::errors::kRequiresAdmin);
  CHECK(Code(exists->AccountsExist(Context(&alice).get(), request, &response)) ==
        parley::errors::kRequiresAdmin);
  auto as_message = parley::rpc::ServiceCaller(c.sdkappid, "parley-message");
  REQUIRE(exists->AccountsExist(Context(&as_message).get(), request, &response).ok());
  CHECK(std::vector<std::string>(response.existing().begin(), response.existing().end()) ==
        std::vector<std::string>{"alice"});
  // The gateway's own internal calls are not open to app admins on REST.
  auto via_gateway = v1::AuthService::NewStub(TlsChannel(auth, "auth", "gateway"));
  CHECK(via_gateway->AccountsExist(Context(&admin).get(), request, &response).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
}

TEST_CASE("operator RPCs take only the operator's certificate, and keys go nowhere else",
          "[security]") {
  TestCluster c;
  const std::string auth = c.setting("PARLEY_AUTH_TARGET");
  const std::string relationship = c.setting("PARLEY_RELATIONSHIP_TARGET");
  const std::string callback = c.setting("PARLEY_CALLBACK_TARGET");

  for (const std::string identity : {"gateway", "message", "relationship", "push", "callback"}) {
    INFO(identity);
    auto apps = v1::AuthService::NewStub(TlsChannel(auth, "auth", identity));
    v1::ListAppsResponse listed;
    CHECK(apps->ListApps(Context().get(), {}, &listed).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    v1::GetAppRequest get;
    get.set_sdkappid(c.sdkappid);
    v1::App app;
    CHECK(apps->GetApp(Context().get(), get, &app).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    CHECK(app.secret_key().empty());
    auto settings = v1::RelationshipService::NewStub(
        TlsChannel(relationship, "relationship", identity));
    v1::RelationshipSettings update, answer;
    update.set_sdkappid(c.sdkappid);
    CHECK(settings->UpdateSettings(Context().get(), update, &answer).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    auto hooks = v1::WebhookService::NewStub(TlsChannel(callback, "callback", identity));
    v1::CallbackSettings hook_update, hook_answer;
    hook_update.set_sdkappid(c.sdkappid);
    hook_update.set_url("http://127.0.0.1:9/attacker");
    CHECK(hooks->UpdateSettings(Context().get(), hook_update, &hook_answer).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    v1::ListDeadLettersRequest dead;
    dead.set_sdkappid(c.sdkappid);
    v1::ListDeadLettersResponse letters;
    CHECK(hooks->ListDeadLetters(Context().get(), dead, &letters).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
  }

  // The operator lists apps without keys and reads one app's key on request.
  auto apps = v1::AuthService::NewStub(TlsChannel(auth, "auth"));
  v1::ListAppsResponse listed;
  REQUIRE(apps->ListApps(Context().get(), {}, &listed).ok());
  bool found = false;
  for (const auto& app : listed.apps()) {
    CHECK(app.secret_key().empty());
    found = found || app.sdkappid() == c.sdkappid;
  }
  CHECK(found);
  v1::GetAppRequest get;
  get.set_sdkappid(c.sdkappid);
  v1::App app;
  REQUIRE(apps->GetApp(Context().get(), get, &app).ok());
  CHECK(app.secret_key() == c.secret_key);
  v1::SetAppAdminsRequest admins;
  admins.set_sdkappid(c.sdkappid);
  admins.add_admin_ids(c.admin);
  REQUIRE(apps->SetAppAdmins(Context().get(), admins, &app).ok());
  CHECK(app.secret_key().empty());

  // The callback signing token: set by the operator, hidden from producers.
  auto hooks = v1::WebhookService::NewStub(TlsChannel(callback, "callback"));
  v1::CallbackSettings update, answer;
  update.set_sdkappid(c.sdkappid);
  update.set_token("s3cret-token");
  REQUIRE(hooks->UpdateSettings(Context().get(), update, &answer).ok());
  v1::GetCallbackSettingsRequest read;
  read.set_sdkappid(c.sdkappid);
  REQUIRE(hooks->GetSettings(Context().get(), read, &answer).ok());
  CHECK(answer.token() == "s3cret-token");
  auto producer = v1::WebhookService::NewStub(TlsChannel(callback, "callback", "message"));
  v1::CallbackSettings seen;
  REQUIRE(producer->GetSettings(Context().get(), read, &seen).ok());
  CHECK_FALSE(seen.has_token());
}
