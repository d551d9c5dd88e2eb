// Whether a one-to-one send is allowed (blocklist and the app's friendship
// policy), without a round trip per message.
//
// The facts for a (sender, recipient) pair come from the relationship
// service and are cached here. The relationship service publishes every
// change on Redis (parley:relationship:changes, "u <sdkappid> <user>" or
// "a <sdkappid>"); a change invalidates every cached pair involving that
// user, or the whole app. Invalidation works by versions: each fill records
// the version it started at, each change stamps the user with a newer one,
// so a fill racing a change is never trusted. While the subscription is
// down nothing is cached, and entries expire after a minute regardless.
// Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "parley/v1/relationship.grpc.pb.h"

namespace parley::message {

inline constexpr char kRelationshipChangesChannel[] = "parley:relationship:changes";

class SendPermission {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  // `caching` tells whether invalidations are being received right now.
  SendPermission(std::shared_ptr<v1::RelationshipService::StubInterface> relationship, Clock now,
                 std::function<bool()> caching);

  // 0 when allowed, else 20007/20009/20010/20011.
  absl::StatusOr<int32_t> Check(uint64_t sdkappid, const std::string& from,
                                const std::string& to, bool sender_is_admin);

  // A message from the changes channel.
  void OnChange(const std::string& message);
  void InvalidateAll();

  uint64_t fetches() const { return fetches_; }

  // The rule itself: 0, or the code the sender gets.
  static int32_t Code(const v1::CheckSendPermissionResponse& facts, bool sender_is_admin);

 private:
  struct Entry {
    v1::CheckSendPermissionResponse facts;
    uint64_t version = 0;
    int64_t expires_at = 0;
  };
  bool FreshLocked(const Entry& entry, uint64_t sdkappid,
                   const std::string& from, const std::string& to, int64_t now) const;

  std::shared_ptr<v1::RelationshipService::StubInterface> relationship_;
  Clock now_;
  std::function<bool()> caching_;
  std::mutex mu_;
  uint64_t version_ = 1;
  uint64_t valid_from_ = 0;  // entries at or below this are stale
  std::unordered_map<std::string, Entry> pairs_;
  std::unordered_map<std::string, uint64_t> changed_;  // user or app key -> version
  std::atomic<uint64_t> fetches_{0};
};

}  // namespace parley::message
