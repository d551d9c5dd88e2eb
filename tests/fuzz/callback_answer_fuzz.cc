// App backends' answers to callbacks: the before-callback verdict and the
// after-callback success check. Any answer yields a verdict, never a crash.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "transport.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string answer(reinterpret_cast<const char*>(data), size);
  for (bool refuse : {false, true}) {
    auto verdict = parley::callback::ReadBeforeAnswer(answer, refuse);
    if (!parley::v1::BeforeResponse::Verdict_IsValid(verdict.verdict())) std::abort();
  }
  (void)parley::callback::AfterAnswerOk(200, answer);
  return 0;
}
