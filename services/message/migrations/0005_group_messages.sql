-- Group messages (proto/parley/v1/group_message.proto). Each group has one
-- gapless seq shared by its messages and tips; a message is stored once.

CREATE TABLE group_heads (
  sdkappid       BIGINT NOT NULL,
  group_id       TEXT NOT NULL,
  group_type     SMALLINT NOT NULL DEFAULT 0,   -- group_rules.h GroupType
  max_seq        BIGINT NOT NULL DEFAULT 0,
  -- How many events up to max_seq count as unread (messages without
  -- NoUnread, not targeted): unread = counted - the reader's counted_at.
  counted        BIGINT NOT NULL DEFAULT 0,
  last_msg_time  BIGINT NOT NULL DEFAULT 0,
  -- The last message that updates conversations (not NoLastMsg): a member's
  -- group conversation is listed while it is past their hidden_seq.
  last_conversation_seq BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (sdkappid, group_id)
);

CREATE TABLE group_events (
  sdkappid           BIGINT NOT NULL,
  group_id           TEXT NOT NULL,
  seq                BIGINT NOT NULL,
  kind               SMALLINT NOT NULL,          -- GroupEvent.Kind: 1 message, 2 tip
  from_account       TEXT NOT NULL,
  random             BIGINT NOT NULL DEFAULT 0,
  msg_time           BIGINT NOT NULL,
  priority           TEXT NOT NULL DEFAULT '',
  body               TEXT NOT NULL,              -- MsgBody JSON, or the tip as JSON
  cloud_custom_data  TEXT NOT NULL DEFAULT '',
  offline_push       TEXT,                       -- OfflinePushInfo JSON, for push
  at_info            TEXT,                       -- GroupAtInfo JSON
  to_accounts        TEXT[],                     -- a targeted message's readers
  need_receipt       BOOLEAN NOT NULL DEFAULT false,
  counted_at         BIGINT NOT NULL,            -- group_heads.counted after this event
  client_msg_id      TEXT NOT NULL DEFAULT '',
  recalled           BOOLEAN NOT NULL DEFAULT false,
  -- clear_group_msg: a deleted seq reads as a placeholder.
  deleted            BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (sdkappid, group_id, seq)
);
-- Duplicate sends: the same Random from the same sender within 5 minutes,
-- or the same client message id.
CREATE INDEX group_events_random ON group_events (sdkappid, group_id, random) WHERE kind = 1;
CREATE UNIQUE INDEX group_events_client_id
  ON group_events (sdkappid, group_id, from_account, client_msg_id) WHERE client_msg_id <> '';

-- Each member's standing in a group's seq, kept by tips: the seq of their
-- joining (what they may read starts after it, for types that hide history
-- before joining) and how far they have read.
CREATE TABLE group_member_seqs (
  sdkappid   BIGINT NOT NULL,
  user_id    TEXT NOT NULL,
  group_id   TEXT NOT NULL,
  join_seq   BIGINT NOT NULL,
  read_seq   BIGINT NOT NULL,
  msg_flag   SMALLINT NOT NULL DEFAULT 0,          -- group_rules.h MsgFlag
  -- The member's group conversation (recentcontact): pinned, and deleted
  -- up to a seq (it comes back with the next message).
  pinned     BOOLEAN NOT NULL DEFAULT false,
  hidden_seq BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (sdkappid, user_id, group_id)
);
-- A group's members (receipt counts, a disbanded group's rows).
CREATE INDEX group_member_seqs_by_group ON group_member_seqs (sdkappid, group_id, user_id);

-- Read receipts (group_msg_receipt): who read which message.
CREATE TABLE group_receipts (
  sdkappid   BIGINT NOT NULL,
  group_id   TEXT NOT NULL,
  seq        BIGINT NOT NULL,
  user_id    TEXT NOT NULL,
  read_time  BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, group_id, seq, user_id)
);

-- Appends one event to a group's seq under the group's head lock: gapless
-- under any number of concurrent senders and replicas (a transaction that
-- fails takes its seq back with it). With p_dedup, an earlier message of
-- the sender with the same Random within 5 minutes, or with the same client
-- message id, is returned instead (duplicate = true) and nothing is stored.
CREATE FUNCTION parley_group_append(
    p_app BIGINT, p_group TEXT, p_type SMALLINT, p_kind SMALLINT, p_from TEXT, p_random BIGINT,
    p_time BIGINT, p_priority TEXT, p_body TEXT, p_cloud TEXT, p_push TEXT, p_at TEXT,
    p_to TEXT[], p_receipt BOOLEAN, p_counts BOOLEAN, p_client_id TEXT, p_dedup BOOLEAN,
    OUT seq BIGINT, OUT msg_time BIGINT, OUT duplicate BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
  head group_heads%ROWTYPE;
BEGIN
  INSERT INTO group_heads (sdkappid, group_id, group_type) VALUES (p_app, p_group, p_type)
    ON CONFLICT DO NOTHING;
  SELECT * INTO head FROM group_heads WHERE sdkappid = p_app AND group_id = p_group FOR UPDATE;
  IF p_type <> 0 AND head.group_type <> p_type THEN
    UPDATE group_heads SET group_type = p_type WHERE sdkappid = p_app AND group_id = p_group;
  END IF;
  IF p_dedup THEN
    SELECT e.seq, e.msg_time INTO seq, msg_time FROM group_events e
      WHERE e.sdkappid = p_app AND e.group_id = p_group AND e.kind = 1 AND e.from_account = p_from
        AND ((p_client_id <> '' AND e.client_msg_id = p_client_id)
             OR (p_client_id = '' AND e.random = p_random AND e.msg_time >= p_time - 300))
      LIMIT 1;
    IF FOUND THEN
      duplicate := true;
      RETURN;
    END IF;
  END IF;
  duplicate := false;
  seq := head.max_seq + 1;
  msg_time := p_time;
  INSERT INTO group_events (sdkappid, group_id, seq, kind, from_account, random, msg_time,
                            priority, body, cloud_custom_data, offline_push, at_info,
                            to_accounts, need_receipt, counted_at, client_msg_id)
    VALUES (p_app, p_group, seq, p_kind, p_from, p_random, p_time, p_priority, p_body, p_cloud,
            p_push, p_at, p_to, p_receipt, head.counted + (CASE WHEN p_counts THEN 1 ELSE 0 END),
            p_client_id);
  UPDATE group_heads
    SET max_seq = seq, counted = counted + (CASE WHEN p_counts THEN 1 ELSE 0 END),
        last_msg_time = CASE WHEN p_kind = 1 THEN p_time ELSE last_msg_time END,
        last_conversation_seq = CASE WHEN p_kind = 1 THEN seq ELSE last_conversation_seq END
    WHERE sdkappid = p_app AND group_id = p_group;
END
$$;
