-- Community permission groups (docs/architecture.md "Community permission
-- groups"). With enable_permission on, a member other than the owner may do
-- what their bits allow: the community's default_permission and the bits of
-- the permission groups they are in; in a topic, also the topic's
-- default_permission and the groups' topic permissions.
ALTER TABLE groups
  ADD COLUMN enable_permission BOOLEAN NOT NULL DEFAULT false,
  ADD COLUMN default_permission BIGINT NOT NULL DEFAULT 0;
ALTER TABLE group_topics ADD COLUMN default_permission BIGINT NOT NULL DEFAULT 0;

CREATE TABLE group_permission_groups (
  sdkappid       BIGINT NOT NULL,
  group_id       TEXT NOT NULL,
  pg_id          TEXT NOT NULL,
  name           TEXT NOT NULL,
  permission     BIGINT NOT NULL,
  custom_string  TEXT NOT NULL DEFAULT '',
  serial         BIGSERIAL NOT NULL,
  PRIMARY KEY (sdkappid, group_id, pg_id),
  FOREIGN KEY (sdkappid, group_id) REFERENCES groups ON DELETE CASCADE
);
CREATE INDEX group_permission_groups_in_order
  ON group_permission_groups (sdkappid, group_id, serial);

CREATE TABLE group_permission_members (
  sdkappid   BIGINT NOT NULL,
  group_id   TEXT NOT NULL,
  pg_id      TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  serial     BIGSERIAL NOT NULL,
  PRIMARY KEY (sdkappid, group_id, pg_id, user_id),
  FOREIGN KEY (sdkappid, group_id, pg_id) REFERENCES group_permission_groups ON DELETE CASCADE
);
-- A member's permission groups (their bits, and their removal on leaving).
CREATE INDEX group_permission_members_by_user
  ON group_permission_members (sdkappid, group_id, user_id);
CREATE INDEX group_permission_members_in_order
  ON group_permission_members (sdkappid, group_id, pg_id, serial);

CREATE TABLE group_topic_permissions (
  sdkappid    BIGINT NOT NULL,
  group_id    TEXT NOT NULL,
  pg_id       TEXT NOT NULL,
  topic_id    TEXT NOT NULL,
  permission  BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, group_id, pg_id, topic_id),
  FOREIGN KEY (sdkappid, group_id, pg_id) REFERENCES group_permission_groups ON DELETE CASCADE,
  FOREIGN KEY (sdkappid, topic_id) REFERENCES group_topics ON DELETE CASCADE
);
