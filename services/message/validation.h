// Validation of Tencent MsgBody (compat reference §4).
#pragma once

#include <string>

#include <google/protobuf/struct.pb.h>

#include "absl/status/status.h"

namespace parley::message {

// Largest MsgBody + CloudCustomData, in bytes of JSON (Tencent: 12 KB).
inline constexpr size_t kMaxBodyBytes = 12 * 1024;

// OK, or 90002 (bad element) / 80002 (too long) with the reason. `json_size`
// is the size of the body's JSON text plus CloudCustomData.
absl::Status ValidateMsgBody(const google::protobuf::ListValue& body, size_t json_size);

}  // namespace parley::message
