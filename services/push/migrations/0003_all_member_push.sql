-- All-member push (compat reference §3.3): attribute names, users'
-- attributes and tags, and push tasks.
CREATE TABLE push_attr_names (
  sdkappid  BIGINT NOT NULL,
  idx       SMALLINT NOT NULL,  -- "0" to "9" in AttrNames
  name      TEXT NOT NULL,
  PRIMARY KEY (sdkappid, idx)
);

CREATE TABLE push_user_attrs (
  sdkappid  BIGINT NOT NULL,
  user_id   TEXT NOT NULL,
  name      TEXT NOT NULL,
  value     TEXT NOT NULL,
  PRIMARY KEY (sdkappid, user_id, name)
);
-- Users with an attribute value, in UserID order (a push's pages).
CREATE INDEX push_user_attrs_by_value ON push_user_attrs (sdkappid, name, value, user_id);

CREATE TABLE push_user_tags (
  sdkappid  BIGINT NOT NULL,
  user_id   TEXT NOT NULL,
  tag       TEXT NOT NULL,
  PRIMARY KEY (sdkappid, user_id, tag)
);
CREATE INDEX push_user_tags_by_tag ON push_user_tags (sdkappid, tag, user_id);

-- The message and condition are serialized protos, base64.
CREATE TABLE push_tasks (
  sdkappid     BIGINT NOT NULL,
  task_id      TEXT NOT NULL,
  seq          BIGSERIAL NOT NULL,   -- order of the app's tasks (login catch-up)
  created_ms   BIGINT NOT NULL,
  expires_ms   BIGINT NOT NULL,      -- created_ms + MsgLifeTime
  message      TEXT NOT NULL,
  condition    TEXT NOT NULL,
  finished_ms  BIGINT NOT NULL DEFAULT 0,
  users        BIGINT NOT NULL DEFAULT 0,
  online       BIGINT NOT NULL DEFAULT 0,
  devices      BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (sdkappid, task_id)
);
CREATE INDEX push_tasks_by_seq ON push_tasks (sdkappid, seq);
