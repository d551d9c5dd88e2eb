#include "validation.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"

namespace parley::message {
namespace {

using google::protobuf::Value;

enum class Type { kString, kNumber, kArray };

struct Field {
  const char* name;
  Type type;
  bool required;
};

// Per element type: the MsgContent fields Parley checks.
const std::map<std::string, std::vector<Field>>& ElementFields() {
  static const auto* fields = new std::map<std::string, std::vector<Field>>{
      {"TIMTextElem", {{"Text", Type::kString, true}}},
      {"TIMLocationElem",
       {{"Desc", Type::kString, false},
        {"Latitude", Type::kNumber, true},
        {"Longitude", Type::kNumber, true}}},
      {"TIMFaceElem", {{"Index", Type::kNumber, true}, {"Data", Type::kString, false}}},
      {"TIMCustomElem",
       {{"Data", Type::kString, false},
        {"Desc", Type::kString, false},
        {"Ext", Type::kString, false},
        {"Sound", Type::kString, false}}},
      {"TIMSoundElem",
       {{"Url", Type::kString, false},
        {"UUID", Type::kString, false},
        {"Size", Type::kNumber, false},
        {"Second", Type::kNumber, false},
        {"Download_Flag", Type::kNumber, false}}},
      {"TIMImageElem",
       {{"UUID", Type::kString, false},
        {"ImageFormat", Type::kNumber, false},
        {"ImageInfoArray", Type::kArray, true}}},
      {"TIMFileElem",
       {{"Url", Type::kString, false},
        {"UUID", Type::kString, false},
        {"FileSize", Type::kNumber, false},
        {"FileName", Type::kString, false},
        {"Download_Flag", Type::kNumber, false}}},
      {"TIMVideoFileElem",
       {{"VideoUrl", Type::kString, false},
        {"VideoUUID", Type::kString, false},
        {"VideoSize", Type::kNumber, false},
        {"VideoSecond", Type::kNumber, false},
        {"VideoFormat", Type::kString, false},
        {"ThumbUrl", Type::kString, false},
        {"ThumbUUID", Type::kString, false},
        {"ThumbSize", Type::kNumber, false},
        {"ThumbWidth", Type::kNumber, false},
        {"ThumbHeight", Type::kNumber, false}}},
      {"TIMRelayElem",
       {{"Title", Type::kString, false},
        {"MsgNum", Type::kNumber, false},
        {"CompatibleText", Type::kString, false},
        {"AbstractList", Type::kArray, false},
        {"MsgList", Type::kArray, false},
        {"JsonMsgKey", Type::kString, false}}},
  };
  return *fields;
}

bool HasType(const Value& value, Type type) {
  switch (type) {
    case Type::kString: return value.kind_case() == Value::kStringValue;
    case Type::kNumber: return value.kind_case() == Value::kNumberValue;
    case Type::kArray: return value.kind_case() == Value::kListValue;
  }
  return false;
}

absl::Status Bad(const std::string& why) { return errors::Error(90002, why); }

}  // namespace

absl::Status ValidateMsgBody(const google::protobuf::ListValue& body, size_t json_size) {
  if (body.values_size() == 0) return Bad("MsgBody is empty");
  if (json_size > kMaxBodyBytes) {
    return errors::Error(80002, absl::StrCat("message is longer than ", kMaxBodyBytes, " bytes"));
  }
  int custom = 0;
  for (int i = 0; i < body.values_size(); ++i) {
    const Value& element = body.values(i);
    if (element.kind_case() != Value::kStructValue) {
      return Bad(absl::StrCat("MsgBody[", i, "] is not an object"));
    }
    const auto& fields = element.struct_value().fields();
    auto type = fields.find("MsgType");
    auto content = fields.find("MsgContent");
    if (type == fields.end() || type->second.kind_case() != Value::kStringValue) {
      return Bad(absl::StrCat("MsgBody[", i, "].MsgType is missing"));
    }
    const std::string& name = type->second.string_value();
    auto known = ElementFields().find(name);
    if (known == ElementFields().end()) {
      return Bad(absl::StrCat("MsgBody[", i, "].MsgType '", name, "' is unknown"));
    }
    if (content == fields.end() || content->second.kind_case() != Value::kStructValue) {
      return Bad(absl::StrCat("MsgBody[", i, "].MsgContent is not an object"));
    }
    if (name == "TIMCustomElem" && ++custom > 1) {
      return Bad("a message holds at most one TIMCustomElem");
    }
    const auto& values = content->second.struct_value().fields();
    for (const Field& field : known->second) {
      auto it = values.find(field.name);
      if (it == values.end()) {
        if (field.required) {
          return Bad(absl::StrCat("MsgBody[", i, "] ", name, " needs ", field.name));
        }
        continue;
      }
      if (!HasType(it->second, field.type)) {
        return Bad(absl::StrCat("MsgBody[", i, "] ", name, ".", field.name, " has the wrong type"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace parley::message
