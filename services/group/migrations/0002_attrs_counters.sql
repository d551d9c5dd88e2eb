-- Group attributes (the SDK's "group attributes": at most 16 keys, checked by
-- group_rules.h) kept with the group, and group counters, one row a key.
ALTER TABLE groups ADD COLUMN attrs JSONB NOT NULL DEFAULT '{}';

CREATE TABLE group_counters (
  sdkappid  BIGINT NOT NULL,
  group_id  TEXT NOT NULL,
  key       TEXT NOT NULL,
  value     BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, group_id, key),
  FOREIGN KEY (sdkappid, group_id) REFERENCES groups ON DELETE CASCADE
);
