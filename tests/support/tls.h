// Certificates for tests: a cluster CA and one certificate per identity,
// made once per test process with scripts/tls-certs (or taken from
// PARLEY_TEST_TLS_DIR, which scripts/test fills once for the whole run).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/channel.h>

namespace parley::testing {

// The directory of ca.crt and <name>.crt/.key for every Parley identity.
const std::string& TlsDir();

// A channel to the Parley service `server` ("auth", ...) at `target`,
// presenting the certificate of `identity` ("operator", "gateway",
// "message", ...), or none at all when `identity` is empty; `dir` holds the
// certificate (the cluster's unless another CA's is wanted).
std::shared_ptr<grpc::Channel> TlsChannel(const std::string& target, const std::string& server,
                                          const std::string& identity = "operator",
                                          const std::string& dir = TlsDir());

}  // namespace parley::testing
