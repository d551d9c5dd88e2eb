// protojson::Parse: JSON text to a message by reflection. nlohmann::json
// tokenizes; the mapping follows protobuf's JSON parser (see protojson.h).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "parley/protojson/protojson.h"

namespace parley::protojson {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using Json = nlohmann::json;

// A message type's fields by JSON name and by proto name. Built once per
// type and thread, so lookups take no lock.
const FieldDescriptor* FindField(const Descriptor* type, const std::string& key) {
  thread_local std::unordered_map<const Descriptor*,
                                  std::unordered_map<std::string, const FieldDescriptor*>>
      indexes;
  auto [it, added] = indexes.try_emplace(type);
  if (added) {
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* field = type->field(i);
      it->second.emplace(field->json_name(), field);
      it->second.emplace(field->name(), field);
    }
  }
  auto found = it->second.find(key);
  return found == it->second.end() ? nullptr : found->second;
}

absl::Status TypeError(const FieldDescriptor* field, const char* expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("field ", field->json_name(), ": expected ", expected));
}

// An integral JSON number or a string holding one, within [min, max].
template <class Int>
absl::Status ToInteger(const Json& j, const FieldDescriptor* field, Int* out) {
  constexpr Int kMin = std::numeric_limits<Int>::min();
  constexpr Int kMax = std::numeric_limits<Int>::max();
  if (j.is_number_unsigned()) {
    uint64_t v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(kMax)) return TypeError(field, "an integer in range");
    *out = static_cast<Int>(v);
    return absl::OkStatus();
  }
  if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if (v < 0 && (kMin == 0 || v < static_cast<int64_t>(kMin))) {
      return TypeError(field, "an integer in range");
    }
    if (v > 0 && static_cast<uint64_t>(v) > static_cast<uint64_t>(kMax)) {
      return TypeError(field, "an integer in range");
    }
    *out = static_cast<Int>(v);
    return absl::OkStatus();
  }
  if (j.is_number_float()) {
    double v = j.get<double>();
    if (std::trunc(v) != v || v < static_cast<double>(kMin) || v >= static_cast<double>(kMax) + 1.0) {
      return TypeError(field, "an integer");
    }
    *out = static_cast<Int>(v);
    return absl::OkStatus();
  }
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    Int v;
    if (!absl::SimpleAtoi(s, &v)) return TypeError(field, "an integer");
    *out = v;
    return absl::OkStatus();
  }
  return TypeError(field, "an integer");
}

absl::Status ToDouble(const Json& j, const FieldDescriptor* field, double* out) {
  if (j.is_number()) {
    *out = j.get<double>();
    return absl::OkStatus();
  }
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (s == "NaN") *out = std::numeric_limits<double>::quiet_NaN();
    else if (s == "Infinity") *out = std::numeric_limits<double>::infinity();
    else if (s == "-Infinity") *out = -std::numeric_limits<double>::infinity();
    else if (!absl::SimpleAtod(s, out)) return TypeError(field, "a number");
    return absl::OkStatus();
  }
  return TypeError(field, "a number");
}

// protobuf's parser refuses nesting beyond 100 levels too; without a limit a
// hostile frame of nested arrays would overflow the stack.
constexpr int kMaxDepth = 100;

class Parser {
 public:
  explicit Parser(ParseOptions options) : options_(options) {}

  absl::Status ToMessage(const Json& j, Message* message) {
    DepthGuard guard(&depth_);
    if (depth_ > kMaxDepth) return TooDeep();
    const Descriptor* type = message->GetDescriptor();
    const std::string& name = type->full_name();
    if (name.rfind("google.protobuf.", 0) == 0) return WellKnown(j, message);
    if (!j.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(type->name(), ": expected an object"));
    }
    const Reflection* reflection = message->GetReflection();
    for (const auto& [key, item] : j.items()) {
      const FieldDescriptor* field = FindField(type, key);
      if (field == nullptr) {
        if (options_.ignore_unknown_fields) continue;
        return absl::InvalidArgumentError(absl::StrCat("unknown field \"", key, "\""));
      }
      if (item.is_null() && field->message_type() != nullptr &&
          field->message_type()->full_name() == "google.protobuf.Value" && !field->is_repeated()) {
        static_cast<google::protobuf::Value*>(reflection->MutableMessage(message, field))
            ->set_null_value(google::protobuf::NULL_VALUE);
        continue;
      }
      if (item.is_null()) continue;  // null means "not set"
      if (const auto* oneof = field->containing_oneof();
          oneof != nullptr && reflection->HasOneof(*message, oneof)) {
        return absl::InvalidArgumentError(
            absl::StrCat("more than one field of oneof ", oneof->name(), " is set"));
      }
      if (field->is_map()) {
        if (auto st = ToMap(item, message, field); !st.ok()) return st;
      } else if (field->is_repeated() && !item.is_array()) {
        // protobuf's parser takes a lone value as a one-element list.
        if (auto st = ToField(item, message, field); !st.ok()) return st;
      } else if (field->is_repeated()) {
        for (const auto& element : item) {
          if (element.is_null()) return TypeError(field, "no null elements");
          if (auto st = ToField(element, message, field); !st.ok()) return st;
        }
      } else if (auto st = ToField(item, message, field); !st.ok()) {
        return st;
      }
    }
    return absl::OkStatus();
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(int* depth) : depth(depth) { ++*depth; }
    ~DepthGuard() { --*depth; }
    int* depth;
  };

  static absl::Status TooDeep() {
    return absl::InvalidArgumentError("JSON is nested more than 100 levels deep");
  }

  absl::Status ToValue(const Json& j, google::protobuf::Value* value) {
    DepthGuard guard(&depth_);
    if (depth_ > kMaxDepth) return TooDeep();
    switch (j.type()) {
      case Json::value_t::null: value->set_null_value(google::protobuf::NULL_VALUE); break;
      case Json::value_t::boolean: value->set_bool_value(j.get<bool>()); break;
      case Json::value_t::string: value->set_string_value(j.get_ref<const std::string&>()); break;
      case Json::value_t::object: return ToStruct(j, value->mutable_struct_value());
      case Json::value_t::array: return ToList(j, value->mutable_list_value());
      default: value->set_number_value(j.get<double>()); break;
    }
    return absl::OkStatus();
  }

  absl::Status ToStruct(const Json& j, google::protobuf::Struct* s) {
    auto* fields = s->mutable_fields();
    for (const auto& [key, item] : j.items()) {
      if (auto st = ToValue(item, &(*fields)[key]); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status ToList(const Json& j, google::protobuf::ListValue* list) {
    for (const auto& item : j) {
      if (auto st = ToValue(item, list->add_values()); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status WellKnown(const Json& j, Message* message) {
    const std::string& name = message->GetDescriptor()->full_name();
    if (auto* value = dynamic_cast<google::protobuf::Value*>(message)) return ToValue(j, value);
    if (auto* s = dynamic_cast<google::protobuf::Struct*>(message)) {
      if (!j.is_object()) return absl::InvalidArgumentError(name + ": expected an object");
      return ToStruct(j, s);
    }
    if (auto* list = dynamic_cast<google::protobuf::ListValue*>(message)) {
      if (!j.is_array()) return absl::InvalidArgumentError(name + ": expected an array");
      return ToList(j, list);
    }
    // Timestamps, durations, wrappers and the like are rare here: protobuf's
    // parser handles their special forms.
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = options_.ignore_unknown_fields;
    auto status = google::protobuf::util::JsonStringToMessage(j.dump(), message, options);
    return status.ok() ? absl::OkStatus()
                       : absl::InvalidArgumentError("not a valid " + name);
  }

  absl::Status ToMap(const Json& j, Message* message, const FieldDescriptor* field) {
    if (!j.is_object()) return TypeError(field, "an object");
    const FieldDescriptor* key_field = field->message_type()->map_key();
    const FieldDescriptor* value_field = field->message_type()->map_value();
    for (const auto& [key, item] : j.items()) {
      Message* entry = message->GetReflection()->AddMessage(message, field);
      // Map keys are strings in JSON; bool and integer keys are spelled out.
      if (auto st = ToField(Json(key), entry, key_field); !st.ok()) return st;
      if (item.is_null() && value_field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        return TypeError(field, "no null map values");
      }
      if (auto st = ToField(item, entry, value_field); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  template <class Int>
  using Setter = void (Reflection::*)(Message*, const FieldDescriptor*, Int) const;

  template <class Int>
  absl::Status ToIntegerField(const Json& j, Message* message, const FieldDescriptor* field,
                              Setter<Int> set, Setter<Int> add) {
    Int v;
    if (auto st = ToInteger(j, field, &v); !st.ok()) return st;
    (message->GetReflection()->*(field->is_repeated() ? add : set))(message, field, v);
    return absl::OkStatus();
  }

  // One value of `field` (an element, for repeated fields).
  absl::Status ToField(const Json& j, Message* message, const FieldDescriptor* field) {
    const Reflection* r = message->GetReflection();
    const bool repeated = field->is_repeated();
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        return ToIntegerField<int32_t>(j, message, field, &Reflection::SetInt32,
                                       &Reflection::AddInt32);
      case FieldDescriptor::CPPTYPE_INT64:
        return ToIntegerField<int64_t>(j, message, field, &Reflection::SetInt64,
                                       &Reflection::AddInt64);
      case FieldDescriptor::CPPTYPE_UINT32:
        return ToIntegerField<uint32_t>(j, message, field, &Reflection::SetUInt32,
                                        &Reflection::AddUInt32);
      case FieldDescriptor::CPPTYPE_UINT64:
        return ToIntegerField<uint64_t>(j, message, field, &Reflection::SetUInt64,
                                        &Reflection::AddUInt64);
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v;
        if (auto st = ToDouble(j, field, &v); !st.ok()) return st;
        repeated ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double v;
        if (auto st = ToDouble(j, field, &v); !st.ok()) return st;
        if (std::isfinite(v) && std::abs(v) > std::numeric_limits<float>::max()) {
          return TypeError(field, "a float in range");
        }
        auto f = static_cast<float>(v);
        repeated ? r->AddFloat(message, field, f) : r->SetFloat(message, field, f);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v;
        if (j.is_boolean()) {
          v = j.get<bool>();
        } else if (j.is_string() && (j == "true" || j == "false")) {
          v = j == "true";  // protobuf's parser takes these too
        } else {
          return TypeError(field, "true or false");
        }
        repeated ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        if (!j.is_string()) return TypeError(field, "a string");
        std::string v = j.get<std::string>();
        if (field->type() == FieldDescriptor::TYPE_BYTES) {
          std::string decoded;
          if (!absl::Base64Unescape(v, &decoded) && !absl::WebSafeBase64Unescape(v, &decoded)) {
            return TypeError(field, "base64");
          }
          v = std::move(decoded);
        }
        repeated ? r->AddString(message, field, std::move(v))
                 : r->SetString(message, field, std::move(v));
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        int number = 0;
        if (j.is_string()) {
          const auto* value = field->enum_type()->FindValueByName(j.get_ref<const std::string&>());
          if (value == nullptr) {
            if (options_.ignore_unknown_fields) return absl::OkStatus();
            return TypeError(field, "a known enum name");
          }
          number = value->number();
        } else if (auto st = ToInteger(j, field, &number); !st.ok()) {
          return st;
        }
        repeated ? r->AddEnumValue(message, field, number)
                 : r->SetEnumValue(message, field, number);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return ToMessage(j, repeated ? r->AddMessage(message, field)
                                     : r->MutableMessage(message, field));
    }
    return absl::InternalError("unhandled field type");
  }

  ParseOptions options_;
  int depth_ = 0;
};

}  // namespace

bool TooDeep(std::string_view json, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : json) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

namespace {

void AppendPath(std::string* path, const google::protobuf::FieldDescriptor* field, int index) {
  if (!path->empty()) path->push_back('.');
  path->append(field->name());
  if (index >= 0) absl::StrAppend(path, "[", index, "]");
}

bool NulIn(const Message& message, const std::vector<std::string>& skip, std::string* path) {
  const Reflection* r = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const auto* field : fields) {
    if (std::find(skip.begin(), skip.end(), field->name()) != skip.end()) continue;
    int count = field->is_repeated() ? r->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      int index = field->is_repeated() ? i : -1;
      if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
        std::string scratch;
        const std::string& value =
            field->is_repeated() ? r->GetRepeatedStringReference(message, field, i, &scratch)
                                 : r->GetStringReference(message, field, &scratch);
        // bytes fields hold binary on purpose; text fields may not hold NUL.
        if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
            value.find('\0') != std::string::npos) {
          AppendPath(path, field, index);
          return true;
        }
      } else if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        const Message& child = field->is_repeated() ? r->GetRepeatedMessage(message, field, i)
                                                    : r->GetMessage(message, field);
        std::string below;
        if (NulIn(child, skip, &below)) {
          AppendPath(path, field, index);
          absl::StrAppend(path, ".", below);
          return true;
        }
      }
    }
  }
  return false;
}

}  // namespace

std::string FindNul(const Message& message, const std::vector<std::string>& skip) {
  std::string path;
  return NulIn(message, skip, &path) ? path : "";
}

absl::Status Parse(std::string_view text, google::protobuf::Message* message,
                   ParseOptions options) {
  if (TooDeep(text, options.max_depth)) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON is nested deeper than ", options.max_depth, " levels"));
  }
  Json j = Json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  message->Clear();
  return Parser(options).ToMessage(j, message);
}

}  // namespace parley::protojson
