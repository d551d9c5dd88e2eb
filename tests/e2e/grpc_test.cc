// Health and reflection over gRPC on both services: what grpcurl relies on.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>

#include "absl/strings/ascii.h"

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "parley/v1/gateway.grpc.pb.h"
#include "support/test_cluster.h"
#include "support/tls.h"

using namespace parley::testing;
namespace reflection = grpc::reflection::v1alpha;

namespace {

std::shared_ptr<grpc::Channel> Channel(int port, const std::string& server) {
  return TlsChannel("127.0.0.1:" + std::to_string(port), server);
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(int port, const std::string& server,
                                                            const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(Channel(port, server));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  auto status = stub->Check(&context, request, &response);
  REQUIRE(status.ok());
  return response.status();
}

std::vector<std::string> ListServices(int port, const std::string& server) {
  auto stub = reflection::ServerReflection::NewStub(Channel(port, server));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stream = stub->ServerReflectionInfo(&context);
  reflection::ServerReflectionRequest request;
  request.set_list_services("*");
  REQUIRE(stream->Write(request));
  reflection::ServerReflectionResponse response;
  REQUIRE(stream->Read(&response));
  stream->WritesDone();
  std::vector<std::string> names;
  for (const auto& s : response.list_services_response().service()) names.push_back(s.name());
  return names;
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

TEST_CASE("every service serves gRPC health and reflection", "[grpc]") {
  TestCluster c;
  using Status = grpc::health::v1::HealthCheckResponse;
  CHECK(Health(c.auth_grpc_port, "auth", "") == Status::SERVING);
  CHECK(Health(c.auth_grpc_port, "auth", "parley.v1.AuthService") == Status::SERVING);
  CHECK(Health(c.gateway_grpc_port, "gateway", "") == Status::SERVING);
  CHECK(Health(c.gateway_grpc_port, "gateway", "parley.v1.GatewayService") == Status::SERVING);

  auto auth_services = ListServices(c.auth_grpc_port, "auth");
  CHECK(Contains(auth_services, "parley.v1.AuthService"));
  CHECK(Contains(auth_services, "grpc.health.v1.Health"));
  auto gateway_services = ListServices(c.gateway_grpc_port, "gateway");
  CHECK(Contains(gateway_services, "parley.v1.GatewayService"));

  for (const auto& [server, service] : std::vector<std::pair<std::string, std::string>>{
           {"message", "parley.v1.MessageService"},
           {"push", "parley.v1.PushService"},
           {"relationship", "parley.v1.RelationshipService"},
           {"group", "parley.v1.GroupService"},
           {"callback", "parley.v1.WebhookService"}}) {
    INFO(service);
    int port = c.port("PARLEY_" + absl::AsciiStrToUpper(server) + "_GRPC_ADDR");
    CHECK(Health(port, server, service) == Status::SERVING);
    CHECK(Contains(ListServices(port, server), service));
  }

  auto stub = parley::v1::GatewayService::NewStub(Channel(c.gateway_grpc_port, "gateway"));
  grpc::ClientContext context;
  parley::v1::GetStatsResponse stats;
  REQUIRE(stub->GetStats(&context, {}, &stats).ok());
  CHECK_FALSE(stats.instance_id().empty());
}
