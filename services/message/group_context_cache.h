// What a group send needs of the group and its sender (the group service's
// GetMemberContext), cached so a busy group costs no call per message.
//
// Entries are per group, holding the members asked about. Every group tip
// (membership, roles, mutes, MuteAllMember, MsgFlag, disbanding) is
// announced on Redis (parley:group:changes, "g <sdkappid> <group>") by the
// replica that stored it, and every replica drops that group's entry; a
// fill that raced an announcement is not kept. While the subscription is
// down nothing is cached, and entries expire after a minute regardless.
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "parley/cache/ttl_cache.h"
#include "parley/v1/group.grpc.pb.h"

namespace parley::message {

inline constexpr char kGroupChangesChannel[] = "parley:group:changes";

class GroupContextCache {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  // `caching` tells whether announcements are being received right now.
  GroupContextCache(std::shared_ptr<v1::GroupService::StubInterface> groups, Clock now,
                    std::function<bool()> caching);

  // The group and `user` in it (user empty: the group alone); errors as the
  // group service gives them (10010 no such group).
  absl::StatusOr<v1::MemberContext> Get(uint64_t sdkappid, const std::string& group,
                                        const std::string& user);

  // The announcement for a group, as published and as received.
  static std::string Announcement(uint64_t sdkappid, const std::string& group);
  void OnChange(const std::string& message);
  void InvalidateAll() { cache_.Clear(); }

  static constexpr int64_t kTtlSeconds = 60;
  static constexpr size_t kMaxMembersPerEntry = 1000;

 private:
  using Members = std::map<std::string, v1::MemberContext>;
  std::shared_ptr<v1::GroupService::StubInterface> groups_;
  Clock now_;
  std::function<bool()> caching_;
  cache::TtlCache<std::string, std::shared_ptr<const Members>> cache_{50000};
};

}  // namespace parley::message
