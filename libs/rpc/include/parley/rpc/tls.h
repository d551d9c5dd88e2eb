// Mutual TLS on every internal gRPC port (docs/security.md).
//
// Every Parley process holds a certificate from the cluster CA whose common
// name and DNS name are its identity, "parley-<name>": parley-gateway,
// parley-auth, ..., and parley-operator for people and tools that administer
// the cluster. Servers require a client certificate from the same CA and
// refuse the handshake without one; clients check that the server they dial
// holds the identity of the service they meant to reach.
//
// The files live in one directory: ca.crt (the cluster CA) and <name>.crt /
// <name>.key (this process's certificate chain and key), PEM. They are read
// again every `refresh_seconds`, so rotating them is replacing the files
// (a Kubernetes Secret update does that) with no restart.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>

#include "absl/status/status.h"

namespace parley::rpc {

inline constexpr char kIdentityPrefix[] = "parley-";
// The only identity that may act for an end user or an app admin.
inline constexpr char kGatewayIdentity[] = "parley-gateway";
// The identity of operator tools (parley-admin, grpcurl with its files).
inline constexpr char kOperatorIdentity[] = "parley-operator";

struct TlsSettings {
  std::string dir;   // holds ca.crt, <name>.crt and <name>.key
  std::string name;  // this process's name: "gateway", "auth", ..., "operator"
  int refresh_seconds = 60;
};

// "parley-" + name.
std::string Identity(const std::string& name);

// Sets this process's certificate files (checked to exist and be readable).
// Call once in main() before any channel or server is made.
absl::Status InitTls(TlsSettings settings);
const TlsSettings& Tls();

// Credentials of this process's identity; InitTls() must have succeeded.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials();
// For the server named `service`: requires a client certificate of the
// cluster CA and refuses, per call, what rpc/access.h does not allow.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const std::string& service);

// The verified identity ("parley-gateway") of the client of a call; empty
// when the transport carried none (impossible on a server made here).
std::string PeerIdentity(const grpc::ServerContext& context);

}  // namespace parley::rpc
