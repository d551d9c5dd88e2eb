// JSON Web Tokens as push vendors take them: ES256 (APNs provider tokens,
// signed with the app's .p8 key) and RS256 (Google service-account
// assertions for FCM's OAuth2 token endpoint). OpenSSL signs.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace parley::push {

enum class JwtAlg { kES256, kRS256 };

// "<header>.<claims>.<signature>", each base64url without padding. The key is
// PEM (PKCS#8 "PRIVATE KEY", or "EC PRIVATE KEY"/"RSA PRIVATE KEY"). A key of
// the wrong kind or unreadable is InvalidArgument, with no key text in it.
absl::StatusOr<std::string> SignJwt(JwtAlg alg, const std::string& header_json,
                                    const std::string& claims_json, const std::string& pem_key);

// Whether `pem_key` is a private key usable for `alg`.
bool UsableKey(JwtAlg alg, const std::string& pem_key);

std::string Base64Url(const std::string& bytes);

}  // namespace parley::push
