// Client frames as the gateway decodes them: JSON text (first byte even) or
// protobuf binary (odd), then the NUL check; and printing what was parsed.
#include <cstdint>
#include <string>

#include "parley/protojson/protojson.h"
#include "parley/v1/client.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string frame_data(reinterpret_cast<const char*>(data) + 1, size - 1);
  parley::v1::ClientFrame frame;
  bool parsed = data[0] % 2 ? frame.ParseFromString(frame_data)
                            : parley::protojson::Parse(frame_data, &frame, {true}).ok();
  if (!parsed) return 0;
  (void)parley::protojson::FindNul(frame, {"body"});
  (void)parley::protojson::Print(frame);
  return 0;
}
