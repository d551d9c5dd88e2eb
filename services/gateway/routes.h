// The REST endpoint table: which Tencent service/command calls which RPC.
#pragma once

#include <memory>

#include "parley/v1/auth.grpc.pb.h"
#include "parley/v1/group.grpc.pb.h"
#include "parley/v1/group_message.grpc.pb.h"
#include "parley/v1/message.grpc.pb.h"
#include "parley/v1/push.grpc.pb.h"
#include "parley/v1/relationship.grpc.pb.h"
#include "rest_api.h"

namespace parley::gateway {

struct Backends {
  std::shared_ptr<v1::AuthService::StubInterface> auth;
  std::shared_ptr<v1::MessageService::StubInterface> message;
  std::shared_ptr<v1::PushService::StubInterface> push;
  std::shared_ptr<v1::RelationshipService::StubInterface> relationship;
  std::shared_ptr<v1::GroupService::StubInterface> group;
  // Served by the message service.
  std::shared_ptr<v1::GroupMessageService::StubInterface> group_message;
};

// Registers every service's error codes and every endpoint.
void RegisterRoutes(RestApi& api, const Backends& backends);

}  // namespace parley::gateway
