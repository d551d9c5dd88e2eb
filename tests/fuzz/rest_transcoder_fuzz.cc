// REST bodies into request protos, as the gateway transcodes them: the first
// byte picks the request type, the rest is the body. Nothing may crash, and
// every refusal must be one of the service's parameter codes.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "parley/errors/errors.h"
#include "parley/v1/auth.pb.h"
#include "parley/v1/message.pb.h"
#include "parley/v1/relationship.pb.h"
#include "rest_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  parley::gateway::ServiceCodes codes{90009, 90001, 90001, 90994};
  parley::v1::SendC2CRequest send;
  parley::v1::BatchSendC2CRequest batch;
  parley::v1::PortraitSetRequest portrait;
  parley::v1::FriendAddRequest friends;
  parley::v1::AccountImportRequest account;
  google::protobuf::Message* targets[] = {&send, &batch, &portrait, &friends, &account};
  google::protobuf::Message* target = targets[data[0] % 5];
  absl::Status status = parley::gateway::ParseJsonBody(body, target, codes);
  if (!status.ok() && parley::errors::TencentCode(status, -1) != 90001) std::abort();
  if (status.ok()) (void)parley::gateway::PrintJson(*target);
  return 0;
}
