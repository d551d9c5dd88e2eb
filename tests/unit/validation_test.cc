#include "validation.h"

#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>

#include "parley/errors/errors.h"

namespace {
int32_t Check(const std::string& body_json) {
  google::protobuf::ListValue body;
  REQUIRE(google::protobuf::util::JsonStringToMessage(body_json, &body).ok());
  return parley::errors::TencentCode(parley::message::ValidateMsgBody(body, body_json.size()), -1);
}
}  // namespace

TEST_CASE("every Tencent element type validates", "[validation]") {
  CHECK(Check(R"([{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}])") == 0);
  CHECK(Check(R"([{"MsgType":"TIMLocationElem","MsgContent":{"Desc":"d","Latitude":1.5,"Longitude":2}}])") == 0);
  CHECK(Check(R"([{"MsgType":"TIMFaceElem","MsgContent":{"Index":1,"Data":"x"}}])") == 0);
  CHECK(Check(R"([{"MsgType":"TIMCustomElem","MsgContent":{"Data":"d","Desc":"p"}}])") == 0);
  CHECK(Check(R"([{"MsgType":"TIMSoundElem","MsgContent":{"Url":"u","Size":1,"Second":2,"Download_Flag":2}}])") == 0);
  CHECK(Check(R"([{"MsgType":"TIMImageElem","MsgContent":{"UUID":"u","ImageFormat":1,"ImageInfoArray":[{"Type":1,"URL":"x"}]}}])") == 0);
  CHECK(Check(R"([{"MsgType":"TIMFileElem","MsgContent":{"Url":"u","FileSize":1,"FileName":"f"}}])") == 0);
  CHECK(Check(R"([{"MsgType":"TIMVideoFileElem","MsgContent":{"VideoUrl":"v","VideoSecond":3,"ThumbUrl":"t"}}])") == 0);
  CHECK(Check(R"([{"MsgType":"TIMRelayElem","MsgContent":{"Title":"t","MsgNum":2,"AbstractList":["a"],"MsgList":[]}}])") == 0);
  CHECK(Check(R"([{"MsgType":"TIMTextElem","MsgContent":{"Text":"a"}},{"MsgType":"TIMFaceElem","MsgContent":{"Index":1}}])") == 0);
}

TEST_CASE("bad bodies are refused with 90002 or 80002", "[validation]") {
  CHECK(Check("[]") == 90002);
  CHECK(Check(R"(["text"])") == 90002);
  CHECK(Check(R"([{"MsgContent":{"Text":"x"}}])") == 90002);
  CHECK(Check(R"([{"MsgType":"TIMUnknownElem","MsgContent":{}}])") == 90002);
  CHECK(Check(R"([{"MsgType":"TIMTextElem","MsgContent":{}}])") == 90002);
  CHECK(Check(R"([{"MsgType":"TIMTextElem","MsgContent":{"Text":5}}])") == 90002);
  CHECK(Check(R"([{"MsgType":"TIMTextElem","MsgContent":"x"}])") == 90002);
  CHECK(Check(R"([{"MsgType":"TIMLocationElem","MsgContent":{"Latitude":"north","Longitude":1}}])") == 90002);
  CHECK(Check(R"([{"MsgType":"TIMImageElem","MsgContent":{"UUID":"u"}}])") == 90002);
  CHECK(Check(R"([{"MsgType":"TIMCustomElem","MsgContent":{}},{"MsgType":"TIMCustomElem","MsgContent":{}}])") == 90002);
  std::string long_text = R"([{"MsgType":"TIMTextElem","MsgContent":{"Text":")" +
                          std::string(12 * 1024, 'x') + R"("}}])";
  CHECK(Check(long_text) == 80002);
}
