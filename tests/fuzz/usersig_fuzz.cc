// UserSig decoding and verification on arbitrary input: never a crash, and
// never "valid" for a sig the key did not sign.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "parley/usersig/usersig.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string sig(reinterpret_cast<const char*>(data), size);
  auto verified = parley::usersig::Verify(sig, 1400000000, "administrator",
                                          "fuzz-key-that-signs-nothing-here", 1700000000);
  // Only a sig made with this key can verify, and the fuzzer can't make one
  // without finding an HMAC-SHA256 collision.
  if (verified.ok()) std::abort();
  return 0;
}
