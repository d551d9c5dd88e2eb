// A bounded, thread-safe cache whose entries expire.
//
// Two generations: lookups search the current map, then the previous one
// (promoting a hit). When the current map holds capacity/2 entries it becomes
// the previous one and the old previous is dropped, so memory stays bounded
// with O(1) work per call and recently used entries survive.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace parley::cache {

template <class Key, class Value>
class TtlCache {
 public:
  explicit TtlCache(size_t capacity) : half_capacity_(capacity < 2 ? 1 : capacity / 2) {}

  // The value stored under `key` if it expires after `now` (any time unit, as
  // long as Put and Get agree).
  std::optional<Value> Get(const Key& key, int64_t now) {
    absl::MutexLock lock(&mu_);
    if (auto it = current_.find(key); it != current_.end()) {
      if (it->second.expires_at > now) return it->second.value;
      current_.erase(it);
      return std::nullopt;
    }
    if (auto it = previous_.find(key); it != previous_.end()) {
      Entry entry = std::move(it->second);
      previous_.erase(it);
      if (entry.expires_at <= now) return std::nullopt;
      Value value = entry.value;
      InsertLocked(key, std::move(entry));
      return value;
    }
    return std::nullopt;
  }

  void Put(const Key& key, Value value, int64_t expires_at) {
    absl::MutexLock lock(&mu_);
    previous_.erase(key);
    InsertLocked(key, Entry{std::move(value), expires_at});
  }

  // For caches invalidated by change notices: take a ticket before reading
  // the source, then PutIfUnchanged() stores the value only if no Erase() or
  // Clear() ran in between (else the value read may predate the change).
  uint64_t Ticket() {
    absl::MutexLock lock(&mu_);
    return invalidations_;
  }
  bool PutIfUnchanged(const Key& key, Value value, int64_t expires_at, uint64_t ticket) {
    absl::MutexLock lock(&mu_);
    if (ticket != invalidations_) return false;
    previous_.erase(key);
    InsertLocked(key, Entry{std::move(value), expires_at});
    return true;
  }

  void Erase(const Key& key) {
    absl::MutexLock lock(&mu_);
    ++invalidations_;
    current_.erase(key);
    previous_.erase(key);
  }

  void Clear() {
    absl::MutexLock lock(&mu_);
    ++invalidations_;
    current_.clear();
    previous_.clear();
  }

  size_t size() {
    absl::MutexLock lock(&mu_);
    return current_.size() + previous_.size();
  }

 private:
  struct Entry {
    Value value;
    int64_t expires_at;
  };
  void InsertLocked(const Key& key, Entry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (current_.size() >= half_capacity_ && !current_.contains(key)) {
      previous_ = std::move(current_);
      current_.clear();
    }
    current_.insert_or_assign(key, std::move(entry));
  }

  const size_t half_capacity_;
  absl::Mutex mu_;
  absl::flat_hash_map<Key, Entry> current_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Key, Entry> previous_ ABSL_GUARDED_BY(mu_);
  uint64_t invalidations_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace parley::cache
