#include "parley/rpc/client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "parley/rpc/tls.h"

namespace parley::rpc {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, const std::string& server) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // A service that restarts is dialled again within a second or two. gRPC's
  // own backoff grows to 120 s, which left callers failing for minutes after
  // a short outage of the service they call.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Services are dialled by address; the certificate must name the service.
  args.SetSslTargetNameOverride(Identity(server));
  // Every address the target resolves to (replicas behind a headless Service,
  // or an "ipv4:a,b" list) takes calls in turn; a replica that goes away is
  // skipped until it answers again.
  args.SetLoadBalancingPolicyName("round_robin");
  return grpc::CreateCustomChannel(target, ChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> NewContext(const Caller* caller,
                                                std::chrono::milliseconds deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + deadline);
  if (caller != nullptr) SetCaller(*context, *caller);
  return context;
}

}  // namespace parley::rpc
