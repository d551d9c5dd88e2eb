// TLSSigAPIv2-compatible UserSig (compat reference §1).
//
// A UserSig is base64(zlib(JSON)) with Tencent's alphabet swap
// (+ -> *, / -> -, = -> _). The JSON carries the identifier, SDKAppID, issue
// time, validity and an HMAC-SHA256 over a fixed text, keyed by the app's
// secret key as raw bytes. JSON layout and zlib level vary by issuer, so a
// server decodes and recomputes; it never compares strings.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace parley::usersig {

// The decoded JSON document.
struct SigDocument {
  std::string identifier;
  uint64_t sdkappid = 0;
  int64_t time = 0;    // issue time, unix seconds
  int64_t expire = 0;  // validity in seconds (a duration)
  std::optional<std::string> userbuf_base64;
  std::string sig_base64;

  int64_t expires_at() const { return time + expire; }
};

// Tencent's base64 variant, both ways.
std::string EncodeBase64Url(absl::string_view bytes);
absl::StatusOr<std::string> DecodeBase64Url(absl::string_view text);

// Inflates and parses a UserSig. Error 70002 when empty, 70003 otherwise.
absl::StatusOr<SigDocument> Decode(absl::string_view usersig);

// Standard base64 of HMAC-SHA256(key, "TLS.identifier:...\n...") (§1.2).
std::string ComputeSig(absl::string_view key, absl::string_view identifier, uint64_t sdkappid,
                       int64_t time, int64_t expire,
                       const std::optional<std::string>& userbuf_base64);

struct GenerateOptions {
  int64_t expire = 180 * 86400;  // the official libraries' default
  int zlib_level = 9;            // any level is valid; Go uses 0, Python 6
  bool spaced_json = false;      // Python's json.dumps layout (", " and ": ")
  std::optional<std::string> userbuf;  // raw bytes; IM ignores it
};

// Issues a UserSig exactly as the official libraries do.
std::string Generate(absl::string_view key, uint64_t sdkappid, absl::string_view identifier,
                     int64_t now, const GenerateOptions& options = {});

// Verifies in Tencent's order (§1.5): decode (70002/70003), identifier
// (70013), SDKAppID (70014), expiry against `now` (70001), HMAC (70009).
// Returns the document on success.
absl::StatusOr<SigDocument> Verify(absl::string_view usersig, uint64_t sdkappid,
                                   absl::string_view identifier, absl::string_view key, int64_t now);

}  // namespace parley::usersig
