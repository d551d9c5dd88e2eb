-- Requests to join a group that an owner or admin must approve
-- (ApplyJoinOption NeedPermission); one per user and group.
CREATE TABLE group_join_requests (
  sdkappid    BIGINT NOT NULL,
  group_id    TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  message     TEXT NOT NULL DEFAULT '',
  apply_time  BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, group_id, user_id),
  FOREIGN KEY (sdkappid, group_id) REFERENCES groups ON DELETE CASCADE
);
