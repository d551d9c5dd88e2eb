// All-member push state in PostgreSQL: attribute names, users' attributes
// and tags, and push tasks (migration push 0003). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/pg/pool.h"
#include "parley/v1/message.pb.h"
#include "parley/v1/push.pb.h"

namespace parley::push {

struct PushTask {
  std::string task_id;
  int64_t seq = 0;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;  // == created_ms: online only
  v1::AllMemberMessage message;
  v1::ImPushCondition condition;
  int64_t finished_ms = 0;
  int64_t users = 0, online = 0, devices = 0;
};

class AllMemberStore {
 public:
  explicit AllMemberStore(pg::Pool* pg) : pg_(pg) {}

  absl::StatusOr<std::map<int, std::string>> AttrNames(uint64_t sdkappid);
  absl::Status SetAttrNames(uint64_t sdkappid, const std::map<int, std::string>& names);
  absl::StatusOr<std::map<std::string, std::map<std::string, std::string>>> Attrs(
      uint64_t sdkappid, const std::vector<std::string>& users);
  absl::Status SetAttrs(uint64_t sdkappid, const v1::SetAttrRequest& request);
  absl::Status RemoveAttrs(uint64_t sdkappid, const v1::RemoveAttrRequest& request);

  absl::StatusOr<std::map<std::string, std::set<std::string>>> Tags(
      uint64_t sdkappid, const std::vector<std::string>& users);
  // Adds tags; FailedPrecondition (nothing added) when a user would have
  // more than `max_per_user`.
  absl::Status AddTags(uint64_t sdkappid, const v1::UserTagsRequest& request, size_t max_per_user);
  absl::Status RemoveTags(uint64_t sdkappid, const v1::UserTagsRequest& request);
  absl::Status RemoveAllTags(uint64_t sdkappid, const std::vector<std::string>& users);

  // Users a tag or attribute condition takes, after `after` in UserID
  // order, at most `limit`.
  absl::StatusOr<std::vector<std::string>> Matching(uint64_t sdkappid,
                                                    const v1::ImPushCondition& condition,
                                                    const std::string& after, uint32_t limit);

  absl::StatusOr<PushTask> CreateTask(uint64_t sdkappid, PushTask task);
  absl::StatusOr<std::optional<PushTask>> Task(uint64_t sdkappid, const std::string& task_id);
  // Tasks after `seq` that have not expired at `now_ms`, in order (at most
  // 100 a day for 7 days).
  absl::StatusOr<std::vector<PushTask>> ActiveTasksAfter(uint64_t sdkappid, int64_t seq,
                                                         int64_t now_ms);
  // Adds a page's figures; with `finished_ms` set, the task is done. The
  // task as it is now.
  absl::StatusOr<PushTask> AddProgress(uint64_t sdkappid, const std::string& task_id,
                                       int64_t users, int64_t online, int64_t devices,
                                       int64_t finished_ms);

 private:
  pg::Pool* pg_;
};

}  // namespace parley::push
