#include "parley/protojson/protojson.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace parley::protojson {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool NeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

void AppendString(const std::string& s, std::string* out) {
  out->push_back('"');
  size_t plain_from = 0;  // runs that need no escaping are copied whole
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!NeedsEscape(c)) continue;
    out->append(s, plain_from, i - plain_from);
    plain_from = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default: absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
    }
  }
  out->append(s, plain_from, s.size() - plain_from);
  out->push_back('"');
}

template <class Float>
void AppendFloat(Float value, std::string* out) {
  if (std::isnan(value)) {
    out->append("\"NaN\"");
    return;
  }
  if (std::isinf(value)) {
    out->append(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);  // shortest round trip
  out->append(buffer, result.ptr);
}

void AppendMessage(const Message& message, const PrintOptions& options, std::string* out);

void AppendValue(const google::protobuf::Value& value, std::string* out);

void AppendStruct(const google::protobuf::Struct& s, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [key, value] : s.fields()) {
    if (!first) out->push_back(',');
    first = false;
    AppendString(key, out);
    out->push_back(':');
    AppendValue(value, out);
  }
  out->push_back('}');
}

void AppendList(const google::protobuf::ListValue& list, std::string* out) {
  out->push_back('[');
  for (int i = 0; i < list.values_size(); ++i) {
    if (i) out->push_back(',');
    AppendValue(list.values(i), out);
  }
  out->push_back(']');
}

void AppendValue(const google::protobuf::Value& value, std::string* out) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue: return AppendFloat(value.number_value(), out);
    case google::protobuf::Value::kStringValue: return AppendString(value.string_value(), out);
    case google::protobuf::Value::kBoolValue: out->append(value.bool_value() ? "true" : "false"); return;
    case google::protobuf::Value::kStructValue: return AppendStruct(value.struct_value(), out);
    case google::protobuf::Value::kListValue: return AppendList(value.list_value(), out);
    default: out->append("null");
  }
}

// One element of `field` (index -1 for a singular field).
void AppendField(const Message& message, const FieldDescriptor* field, int index,
                 const PrintOptions& options, std::string* out) {
  const Reflection* r = message.GetReflection();
  bool repeated = index >= 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      absl::StrAppend(out, repeated ? r->GetRepeatedInt32(message, field, index)
                                    : r->GetInt32(message, field));
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      absl::StrAppend(out, repeated ? r->GetRepeatedUInt32(message, field, index)
                                    : r->GetUInt32(message, field));
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      absl::StrAppend(out, "\"",
                      repeated ? r->GetRepeatedInt64(message, field, index)
                               : r->GetInt64(message, field),
                      "\"");
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      absl::StrAppend(out, "\"",
                      repeated ? r->GetRepeatedUInt64(message, field, index)
                               : r->GetUInt64(message, field),
                      "\"");
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return AppendFloat(repeated ? r->GetRepeatedDouble(message, field, index)
                                  : r->GetDouble(message, field),
                         out);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return AppendFloat(repeated ? r->GetRepeatedFloat(message, field, index)
                                  : r->GetFloat(message, field),
                         out);
    case FieldDescriptor::CPPTYPE_BOOL:
      out->append((repeated ? r->GetRepeatedBool(message, field, index)
                            : r->GetBool(message, field))
                      ? "true"
                      : "false");
      return;
    case FieldDescriptor::CPPTYPE_ENUM: {
      int number = repeated ? r->GetRepeatedEnumValue(message, field, index)
                            : r->GetEnumValue(message, field);
      const auto* value = field->enum_type()->FindValueByNumber(number);
      if (value) {
        AppendString(value->name(), out);
      } else {
        absl::StrAppend(out, number);
      }
      return;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = repeated ? r->GetRepeatedStringReference(message, field, index, &scratch)
                                      : r->GetStringReference(message, field, &scratch);
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        AppendString(absl::Base64Escape(s), out);
      } else {
        AppendString(s, out);
      }
      return;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return AppendMessage(repeated ? r->GetRepeatedMessage(message, field, index)
                                    : r->GetMessage(message, field),
                           options, out);
  }
}

// A map entry's key as a JSON object key.
void AppendMapKey(const Message& entry, const FieldDescriptor* key, std::string* out) {
  const Reflection* r = entry.GetReflection();
  switch (key->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      return AppendString(r->GetStringReference(entry, key, &scratch), out);
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      out->append(r->GetBool(entry, key) ? "\"true\"" : "\"false\"");
      return;
    case FieldDescriptor::CPPTYPE_INT32: absl::StrAppend(out, "\"", r->GetInt32(entry, key), "\""); return;
    case FieldDescriptor::CPPTYPE_UINT32: absl::StrAppend(out, "\"", r->GetUInt32(entry, key), "\""); return;
    case FieldDescriptor::CPPTYPE_INT64: absl::StrAppend(out, "\"", r->GetInt64(entry, key), "\""); return;
    case FieldDescriptor::CPPTYPE_UINT64: absl::StrAppend(out, "\"", r->GetUInt64(entry, key), "\""); return;
    default: out->append("\"\"");
  }
}

void AppendMessage(const Message& message, const PrintOptions& options, std::string* out) {
  const Descriptor* d = message.GetDescriptor();
  if (d->file()->name() == "google/protobuf/struct.proto") {
    if (d->full_name() == "google.protobuf.Struct") {
      return AppendStruct(static_cast<const google::protobuf::Struct&>(message), out);
    }
    if (d->full_name() == "google.protobuf.Value") {
      return AppendValue(static_cast<const google::protobuf::Value&>(message), out);
    }
    if (d->full_name() == "google.protobuf.ListValue") {
      return AppendList(static_cast<const google::protobuf::ListValue&>(message), out);
    }
  }
  if (d->file()->package() == "google.protobuf") {  // other well-known types: rare here
    std::string json;
    google::protobuf::util::JsonPrintOptions print;
    print.always_print_primitive_fields = options.print_defaults;
    (void)google::protobuf::util::MessageToJsonString(message, &json, print);
    out->append(json);
    return;
  }
  const Reflection* r = message.GetReflection();
  out->push_back('{');
  bool first = true;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    int size = 0;
    if (field->is_repeated()) {
      size = r->FieldSize(message, field);
      if (size == 0 && !options.print_defaults) continue;
    } else if (field->has_presence()) {
      if (!r->HasField(message, field)) continue;
    } else if (!r->HasField(message, field) && !options.print_defaults) {
      continue;  // proto3 scalar at its default
    }
    if (!first) out->push_back(',');
    first = false;
    AppendString(field->json_name(), out);
    out->push_back(':');
    if (field->is_map()) {
      out->push_back('{');
      const FieldDescriptor* key = field->message_type()->map_key();
      const FieldDescriptor* value = field->message_type()->map_value();
      for (int j = 0; j < size; ++j) {
        const Message& entry = r->GetRepeatedMessage(message, field, j);
        if (j) out->push_back(',');
        AppendMapKey(entry, key, out);
        out->push_back(':');
        AppendField(entry, value, -1, options, out);
      }
      out->push_back('}');
    } else if (field->is_repeated()) {
      out->push_back('[');
      for (int j = 0; j < size; ++j) {
        if (j) out->push_back(',');
        AppendField(message, field, j, options, out);
      }
      out->push_back(']');
    } else {
      AppendField(message, field, -1, options, out);
    }
  }
  out->push_back('}');
}

}  // namespace

void AppendTo(const Message& message, PrintOptions options, std::string* out) {
  AppendMessage(message, options, out);
}

std::string Print(const Message& message, PrintOptions options) {
  std::string out;
  AppendMessage(message, options, &out);
  return out;
}

}  // namespace parley::protojson
