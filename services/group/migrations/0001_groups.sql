-- Groups and their members (docs/architecture.md, "group").
CREATE TABLE groups (
  sdkappid            BIGINT NOT NULL,
  group_id            TEXT NOT NULL,
  type                SMALLINT NOT NULL,          -- rules.h GroupType
  name                TEXT NOT NULL,
  introduction        TEXT NOT NULL DEFAULT '',
  notification        TEXT NOT NULL DEFAULT '',
  face_url            TEXT NOT NULL DEFAULT '',
  owner               TEXT NOT NULL DEFAULT '',   -- '' = no owner
  max_members         INT NOT NULL,
  apply_join_option   TEXT NOT NULL,
  invite_join_option  TEXT NOT NULL,
  mute_all            BOOLEAN NOT NULL DEFAULT false,
  app_defined         JSONB NOT NULL DEFAULT '{}',
  -- A Work group is listed for its members only after its first message.
  activated           BOOLEAN NOT NULL,
  member_count        INT NOT NULL DEFAULT 0,
  create_time         BIGINT NOT NULL,
  info_seq            BIGINT NOT NULL DEFAULT 1,
  last_info_time      BIGINT NOT NULL,
  last_msg_time       BIGINT NOT NULL DEFAULT 0,
  next_msg_seq        BIGINT NOT NULL DEFAULT 1,
  -- Creation order, for get_appid_group_list's Next cursor.
  serial              BIGSERIAL NOT NULL,
  PRIMARY KEY (sdkappid, group_id)
);
CREATE UNIQUE INDEX groups_serial ON groups (sdkappid, serial);

CREATE TABLE group_members (
  sdkappid        BIGINT NOT NULL,
  group_id        TEXT NOT NULL,
  user_id         TEXT NOT NULL,
  role            SMALLINT NOT NULL,              -- rules.h Role
  join_time       BIGINT NOT NULL,
  msg_flag        SMALLINT NOT NULL DEFAULT 0,    -- rules.h MsgFlag
  name_card       TEXT NOT NULL DEFAULT '',
  last_send_time  BIGINT NOT NULL DEFAULT 0,
  app_defined     JSONB NOT NULL DEFAULT '{}',
  -- Join order (join_time has one-second steps).
  serial          BIGSERIAL NOT NULL,
  PRIMARY KEY (sdkappid, group_id, user_id),
  FOREIGN KEY (sdkappid, group_id) REFERENCES groups ON DELETE CASCADE
);
CREATE INDEX group_members_in_order ON group_members (sdkappid, group_id, serial);
-- A user's groups (get_joined_group_list), in join order.
CREATE INDEX group_members_by_user ON group_members (sdkappid, user_id, serial);

-- Mutes outlive membership: a muted member who leaves and rejoins is still
-- muted until the time runs out.
CREATE TABLE group_mutes (
  sdkappid    BIGINT NOT NULL,
  group_id    TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  mute_until  BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, group_id, user_id),
  FOREIGN KEY (sdkappid, group_id) REFERENCES groups ON DELETE CASCADE
);
