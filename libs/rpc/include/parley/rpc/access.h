// Who may call which internal RPC: the cluster's call graph in one table.
//
// Each server enforces its part with an auth metadata processor on its TLS
// credentials, matched against the verified identity of the client
// certificate (rpc/tls.h), so a call from an identity the table does not name
// for that method is refused with PERMISSION_DENIED before it reaches the
// service. Health checks and reflection are open to every certificate of the
// cluster CA.
#pragma once

#include <string>
#include <vector>

namespace parley::rpc {

struct AccessRule {
  std::vector<std::string> peers;    // identities, e.g. "parley-gateway"
  std::vector<std::string> methods;  // "/parley.v1.AuthService/GetApp", or "/pkg.Service/*"
};

// The rules of the server named `service` ("auth", "message", ...); empty
// for a name the table does not know (such a server answers only health
// checks and reflection).
std::vector<AccessRule> AccessRules(const std::string& service);

// Whether `peer` may call `method` ("/parley.v1.AuthService/GetApp") under `rules`.
bool Allowed(const std::vector<AccessRule>& rules, const std::string& peer,
             const std::string& method);

}  // namespace parley::rpc
