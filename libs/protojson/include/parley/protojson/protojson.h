// A fast printer of protobuf's canonical JSON mapping (proto3 JSON), for the
// hot paths: REST responses, client frames and stored message bodies.
//
// It walks the message with reflection and appends to one string, where
// google::protobuf::util::MessageToJsonString serializes to binary and
// re-parses through a type resolver (several times slower). Output follows
// the same mapping: json_name keys, 64-bit integers as strings, enums by
// name, bytes as base64, Struct/Value/ListValue as plain JSON. Other
// well-known types are delegated to protobuf's printer.
#pragma once

#include <string>

#include <google/protobuf/message.h>

namespace parley::protojson {

struct PrintOptions {
  // Print fields without presence that hold their default (0, "", false, [])
  // as protobuf's always_print_primitive_fields does.
  bool print_defaults = false;
};

std::string Print(const google::protobuf::Message& message, PrintOptions options = {});
void AppendTo(const google::protobuf::Message& message, PrintOptions options, std::string* out);

}  // namespace parley::protojson
