-- The relationship chain and profiles. Every mutation of a user's lists
-- first locks that user's rel_users row (FOR UPDATE), in user-ID order when
-- two users are involved, so caps and both-way changes are race-free.

CREATE TABLE rel_settings (
  sdkappid            BIGINT PRIMARY KEY,
  friend_limit        INTEGER NOT NULL DEFAULT 3000,
  pending_limit       INTEGER NOT NULL DEFAULT 1000,
  blocklist_limit     INTEGER NOT NULL DEFAULT 1000,
  check_friendship    BOOLEAN NOT NULL DEFAULT false,
  admin_send_any      BOOLEAN NOT NULL DEFAULT true,
  profile_custom_tags TEXT[] NOT NULL DEFAULT '{}',
  sns_custom_tags     TEXT[] NOT NULL DEFAULT '{}'
);

CREATE TABLE rel_users (
  sdkappid           BIGINT NOT NULL,
  user_id            TEXT NOT NULL,
  -- Tag -> Value of every profile item set (standard and custom).
  profile            JSONB NOT NULL DEFAULT '{}',
  -- Bumped on every change of the friend list, blocklist, friend lists.
  friend_seq         BIGINT NOT NULL DEFAULT 0,
  block_seq          BIGINT NOT NULL DEFAULT 0,
  group_seq          BIGINT NOT NULL DEFAULT 0,
  pendency_read_time BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (sdkappid, user_id)
);

CREATE TABLE rel_friends (
  sdkappid    BIGINT NOT NULL,
  owner_id    TEXT NOT NULL,
  friend_id   TEXT NOT NULL,
  remark      TEXT NOT NULL DEFAULT '',
  remark_time BIGINT NOT NULL DEFAULT 0,
  groups      TEXT[] NOT NULL DEFAULT '{}',
  add_source  TEXT NOT NULL DEFAULT '',
  add_wording TEXT NOT NULL DEFAULT '',
  add_time    BIGINT NOT NULL,
  custom      JSONB NOT NULL DEFAULT '{}',
  PRIMARY KEY (sdkappid, owner_id, friend_id)
);

CREATE TABLE rel_requests (
  sdkappid    BIGINT NOT NULL,
  from_id     TEXT NOT NULL,
  to_id       TEXT NOT NULL,
  add_source  TEXT NOT NULL DEFAULT '',
  add_wording TEXT NOT NULL DEFAULT '',
  remark      TEXT NOT NULL DEFAULT '',
  group_name  TEXT NOT NULL DEFAULT '',
  add_type    TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, to_id, from_id)
);
CREATE INDEX rel_requests_sent ON rel_requests (sdkappid, from_id);

CREATE TABLE rel_blocks (
  sdkappid   BIGINT NOT NULL,
  owner_id   TEXT NOT NULL,
  blocked_id TEXT NOT NULL,
  added_at   BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, owner_id, blocked_id)
);

CREATE TABLE rel_friend_groups (
  sdkappid BIGINT NOT NULL,
  owner_id TEXT NOT NULL,
  name     TEXT NOT NULL,
  PRIMARY KEY (sdkappid, owner_id, name)
);

-- "Who has X as a friend": the reverse of a friend check, and whom to tell
-- when X's profile changes.
CREATE INDEX rel_friends_reverse ON rel_friends (sdkappid, friend_id);
