// A fast printer and parser of protobuf's canonical JSON mapping (proto3
// JSON), for the hot paths: REST requests and responses, client frames and
// stored message bodies.
//
// It walks the message with reflection and appends to one string, where
// google::protobuf::util::MessageToJsonString serializes to binary and
// re-parses through a type resolver (several times slower). Output follows
// the same mapping: json_name keys, 64-bit integers as strings, enums by
// name, bytes as base64, Struct/Value/ListValue as plain JSON. Other
// well-known types are delegated to protobuf's printer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/status.h"

namespace parley::protojson {

struct PrintOptions {
  // Print fields without presence that hold their default (0, "", false, [])
  // as protobuf's always_print_primitive_fields does.
  bool print_defaults = false;
};

std::string Print(const google::protobuf::Message& message, PrintOptions options = {});
void AppendTo(const google::protobuf::Message& message, PrintOptions options, std::string* out);

// JSON nested deeper than this (objects and arrays) is refused: a parameter
// error, before anything recurses over it. Tencent's deepest documented
// shapes (a relay element's MsgList of bodies) stay well below it.
inline constexpr int kMaxJsonDepth = 32;

struct ParseOptions {
  // Skip keys (and enum names) the message does not know instead of failing.
  bool ignore_unknown_fields = false;
  int max_depth = kMaxJsonDepth;
};

// True when `json` nests objects and arrays deeper than `max_depth` (a
// linear scan of the text; valid JSON or not).
bool TooDeep(std::string_view json, int max_depth = kMaxJsonDepth);

// The path ("to_account", "profile_item[2].value") of the first string in
// `message` that holds a NUL character, which PostgreSQL text cannot store,
// or "" when there is none. Fields named in `skip` (message bodies, which
// are stored as escaped JSON) are not looked into.
std::string FindNul(const google::protobuf::Message& message,
                    const std::vector<std::string>& skip = {});

// Replaces `message` with the JSON text's content, as google::protobuf::util::
// JsonStringToMessage does (which goes through a type resolver and a binary
// round trip, and was the gateway's largest cost per client frame): keys by
// json_name or proto name, integers as numbers or strings, enums by name or
// number, bytes as base64, null as "not set", Struct/Value/ListValue from
// plain JSON. Other well-known types are delegated to protobuf's parser.
// INVALID_ARGUMENT for malformed JSON or a value of the wrong type.
absl::Status Parse(std::string_view json, google::protobuf::Message* message,
                   ParseOptions options = {});

}  // namespace parley::protojson
