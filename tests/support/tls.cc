#include "support/tls.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"

namespace parley::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

const std::string& TlsDir() {
  static std::once_flag once;
  static std::string dir;
  std::call_once(once, [] {
    if (const char* shared = std::getenv("PARLEY_TEST_TLS_DIR"); shared && *shared) {
      dir = shared;
      return;
    }
    dir = absl::StrCat(PARLEY_BINARY_DIR, "/test-tls/", getpid());
    std::string command =
        absl::StrCat(PARLEY_SOURCE_DIR, "/scripts/tls-certs '", dir, "' >/dev/null");
    REQUIRE(std::system(command.c_str()) == 0);
  });
  return dir;
}

std::shared_ptr<grpc::Channel> TlsChannel(const std::string& target, const std::string& server,
                                          const std::string& identity, const std::string& dir) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(TlsDir() + "/ca.crt");
  if (!identity.empty()) {
    options.pem_private_key = ReadFile(absl::StrCat(dir, "/", identity, ".key"));
    options.pem_cert_chain = ReadFile(absl::StrCat(dir, "/", identity, ".crt"));
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("parley-" + server);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(options), args);
}

}  // namespace parley::testing
