#include "parley/accounts/accounts.h"

#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"
#include "parley/rpc/client.h"

namespace parley::accounts {

bool ValidUserId(const std::string& id) {
  if (id.empty() || id.size() > 32) return false;
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

ExistenceChecker::ExistenceChecker(std::shared_ptr<v1::AuthService::StubInterface> auth,
                                   Clock now, std::string service_name)
    : auth_(std::move(auth)), now_(std::move(now)), service_name_(std::move(service_name)) {}

absl::StatusOr<std::set<std::string>> ExistenceChecker::Existing(
    uint64_t sdkappid, const std::vector<std::string>& users) {
  std::set<std::string> existing;
  v1::AccountsExistRequest request;
  int64_t now = now_();
  for (const auto& user : users) {
    if (known_.Get(absl::StrCat(sdkappid, "\n", user), now)) {
      existing.insert(user);
    } else {
      request.add_user_ids(user);
    }
  }
  if (request.user_ids_size() == 0) return existing;
  rpc::Caller caller = rpc::ServiceCaller(sdkappid, service_name_);
  auto context = rpc::NewContext(&caller);
  v1::AccountsExistResponse response;
  grpc::Status status = auth_->AccountsExist(context.get(), request, &response);
  if (!status.ok()) return errors::FromGrpc(status);
  for (const auto& user : response.existing()) {
    existing.insert(user);
    known_.Put(absl::StrCat(sdkappid, "\n", user), true, now + 60);
  }
  return existing;
}

void ExistenceChecker::Forget(uint64_t sdkappid, const std::vector<std::string>& users) {
  for (const auto& user : users) known_.Erase(absl::StrCat(sdkappid, "\n", user));
}

}  // namespace parley::accounts
