// gRPC client helpers: every call gets a deadline.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "parley/rpc/caller.h"

namespace parley::rpc {

// Default deadline of internal calls; Tencent's REST backend uses 3 s.
inline constexpr std::chrono::milliseconds kDefaultDeadline{3000};

// An insecure channel (internal traffic stays inside the cluster network)
// with keepalive so a dead peer is noticed.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target);

// A context with a deadline and, when given, the caller metadata.
std::unique_ptr<grpc::ClientContext> NewContext(
    const Caller* caller = nullptr, std::chrono::milliseconds deadline = kDefaultDeadline);

}  // namespace parley::rpc
