-- Community topics (docs/architecture.md "Community topics"). A topic's
-- messages and seq live with the message service under the topic's ID; here
-- are its profile, MuteAllMember and mutes. Members are the community's.
ALTER TABLE groups ADD COLUMN support_topic BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE group_topics (
  sdkappid       BIGINT NOT NULL,
  topic_id       TEXT NOT NULL,
  group_id       TEXT NOT NULL,
  name           TEXT NOT NULL,
  face_url       TEXT NOT NULL DEFAULT '',
  notification   TEXT NOT NULL DEFAULT '',
  introduction   TEXT NOT NULL DEFAULT '',
  custom_string  TEXT NOT NULL DEFAULT '',
  mute_all       BOOLEAN NOT NULL DEFAULT false,
  create_time    BIGINT NOT NULL,
  last_msg_time  BIGINT NOT NULL DEFAULT 0,
  next_msg_seq   BIGINT NOT NULL DEFAULT 1,
  -- Creation order, for get_topic.
  serial         BIGSERIAL NOT NULL,
  PRIMARY KEY (sdkappid, topic_id),
  FOREIGN KEY (sdkappid, group_id) REFERENCES groups ON DELETE CASCADE
);
CREATE INDEX group_topics_in_order ON group_topics (sdkappid, group_id, serial);

-- forbid_send_msg with a TopicId: muted in that topic only.
CREATE TABLE group_topic_mutes (
  sdkappid    BIGINT NOT NULL,
  topic_id    TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  mute_until  BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, topic_id, user_id),
  FOREIGN KEY (sdkappid, topic_id) REFERENCES group_topics ON DELETE CASCADE
);
