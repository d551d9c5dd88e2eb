-- AVChatRoom (live rooms): bans, and the app's room settings. Room
-- membership is presence and lives in Redis (libs/liveroom); only a room's
-- owner and admins have group_members rows.
CREATE TABLE group_bans (
  sdkappid      BIGINT NOT NULL,
  group_id      TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  banned_until  BIGINT NOT NULL,
  description   TEXT NOT NULL DEFAULT '',
  -- Ban order, for get_group_ban_member's paging.
  serial        BIGSERIAL NOT NULL,
  PRIMARY KEY (sdkappid, group_id, user_id),
  FOREIGN KEY (sdkappid, group_id) REFERENCES groups ON DELETE CASCADE
);
CREATE INDEX group_bans_in_order ON group_bans (sdkappid, group_id, serial);
-- send_broadcast_msg walks an app's rooms.
CREATE INDEX groups_rooms ON groups (sdkappid, group_id) WHERE type = 5;

ALTER TABLE group_app_fields
  ADD COLUMN room_msg_rate_limit INT NOT NULL DEFAULT 0,
  ADD COLUMN room_recent_count INT NOT NULL DEFAULT 0;
