-- One-to-one messages, per-user timelines and conversations.

-- Each user's timeline: a gapless seq of the events their devices must see.
CREATE TABLE timeline_heads (
  sdkappid  BIGINT NOT NULL,
  user_id   TEXT NOT NULL,
  last_seq  BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, user_id)
);

CREATE TABLE timeline (
  sdkappid    BIGINT NOT NULL,
  user_id     TEXT NOT NULL,
  seq         BIGINT NOT NULL,
  kind        SMALLINT NOT NULL,  -- TimelineEvent.Kind
  peer        TEXT NOT NULL,
  msg_key     TEXT NOT NULL DEFAULT '',
  read_time   BIGINT NOT NULL DEFAULT 0,
  event_time  BIGINT NOT NULL,
  deleted     BOOLEAN NOT NULL DEFAULT false,  -- deleted by this user only
  PRIMARY KEY (sdkappid, user_id, seq)
);
-- History of one conversation from one user's side.
CREATE INDEX timeline_conversation ON timeline (sdkappid, user_id, peer, event_time, seq)
  WHERE kind = 1;

-- Per-conversation MsgSeq when the sender does not choose one (user_a < user_b).
CREATE TABLE c2c_conversation_seqs (
  sdkappid  BIGINT NOT NULL,
  user_a    TEXT NOT NULL,
  user_b    TEXT NOT NULL,
  last_seq  BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, user_a, user_b)
);

-- Message content, stored once for both sides.
CREATE TABLE c2c_messages (
  sdkappid           BIGINT NOT NULL,
  user_a             TEXT NOT NULL,  -- least(from, to)
  user_b             TEXT NOT NULL,  -- greatest(from, to)
  msg_key            TEXT NOT NULL,
  from_account       TEXT NOT NULL,
  to_account         TEXT NOT NULL,
  msg_seq            BIGINT NOT NULL,
  msg_random         BIGINT NOT NULL,
  msg_time           BIGINT NOT NULL,
  body               JSONB NOT NULL,
  cloud_custom_data  TEXT NOT NULL DEFAULT '',
  offline_push_info  JSONB,
  client_msg_id      TEXT NOT NULL DEFAULT '',
  recalled           BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (sdkappid, user_a, user_b, msg_key)
);

-- Retries: the same sender, receiver and random (or client message id)
-- within five minutes is the same message.
CREATE TABLE c2c_dedup (
  sdkappid      BIGINT NOT NULL,
  from_account  TEXT NOT NULL,
  to_account    TEXT NOT NULL,
  dedup_key     TEXT NOT NULL,
  msg_key       TEXT NOT NULL DEFAULT '',
  msg_seq       BIGINT NOT NULL DEFAULT 0,
  msg_time      BIGINT NOT NULL DEFAULT 0,
  sender_seq    BIGINT NOT NULL DEFAULT 0,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (sdkappid, from_account, to_account, dedup_key)
);
CREATE INDEX c2c_dedup_age ON c2c_dedup (created_at);

-- Recent contacts, one row per (owner, peer).
CREATE TABLE conversations (
  sdkappid       BIGINT NOT NULL,
  owner          TEXT NOT NULL,
  peer           TEXT NOT NULL,
  last_msg_key   TEXT NOT NULL DEFAULT '',
  last_msg_time  BIGINT NOT NULL DEFAULT 0,
  unread         INT NOT NULL DEFAULT 0,
  read_time      BIGINT NOT NULL DEFAULT 0,
  pinned         BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (sdkappid, owner, peer)
);

-- Appends one event to a user's timeline and returns its seq. The row lock on
-- timeline_heads serialises a user's appends, and a rolled-back transaction
-- rolls its increment back too, so seqs have no gaps.
CREATE FUNCTION parley_timeline_append(p_app BIGINT, p_user TEXT, p_kind SMALLINT, p_peer TEXT,
                                       p_msg_key TEXT, p_read_time BIGINT, p_time BIGINT)
RETURNS BIGINT LANGUAGE plpgsql AS $fn$
DECLARE
  v_seq BIGINT;
BEGIN
  INSERT INTO timeline_heads AS h (sdkappid, user_id, last_seq) VALUES (p_app, p_user, 1)
  ON CONFLICT (sdkappid, user_id) DO UPDATE SET last_seq = h.last_seq + 1
  RETURNING last_seq INTO v_seq;
  INSERT INTO timeline (sdkappid, user_id, seq, kind, peer, msg_key, read_time, event_time)
  VALUES (p_app, p_user, v_seq, p_kind, p_peer, p_msg_key, p_read_time, p_time);
  RETURN v_seq;
END
$fn$;

-- Stores one C2C message: dedup, MsgSeq, content, both timelines and both
-- conversations, in the caller's transaction. A duplicate returns the
-- original's identity with duplicate = true and changes nothing.
CREATE FUNCTION parley_c2c_send(
    p_app BIGINT, p_from TEXT, p_to TEXT, p_dedup TEXT, p_msg_seq BIGINT, p_random BIGINT,
    p_time BIGINT, p_body JSONB, p_cloud TEXT, p_push JSONB, p_client_msg_id TEXT,
    p_store_sender BOOLEAN, p_count_unread BOOLEAN, p_update_last BOOLEAN,
    OUT duplicate BOOLEAN, OUT msg_key TEXT, OUT msg_seq BIGINT, OUT msg_time BIGINT,
    OUT sender_seq BIGINT, OUT receiver_seq BIGINT)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_a TEXT := least(p_from, p_to);
  v_b TEXT := greatest(p_from, p_to);
  v_old c2c_dedup%ROWTYPE;
BEGIN
  duplicate := false;
  sender_seq := 0;
  receiver_seq := 0;
  IF p_dedup <> '' THEN
    INSERT INTO c2c_dedup (sdkappid, from_account, to_account, dedup_key)
    VALUES (p_app, p_from, p_to, p_dedup) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
      SELECT * INTO v_old FROM c2c_dedup d
       WHERE d.sdkappid = p_app AND d.from_account = p_from AND d.to_account = p_to
         AND d.dedup_key = p_dedup FOR UPDATE;
      IF v_old.created_at > now() - interval '5 minutes' AND v_old.msg_key <> '' THEN
        duplicate := true;
        msg_key := v_old.msg_key;
        msg_seq := v_old.msg_seq;
        msg_time := v_old.msg_time;
        sender_seq := v_old.sender_seq;
        RETURN;
      END IF;
      UPDATE c2c_dedup d SET created_at = now()
       WHERE d.sdkappid = p_app AND d.from_account = p_from AND d.to_account = p_to
         AND d.dedup_key = p_dedup;
    END IF;
  END IF;

  msg_seq := p_msg_seq;
  IF msg_seq = 0 THEN
    INSERT INTO c2c_conversation_seqs AS s (sdkappid, user_a, user_b, last_seq)
    VALUES (p_app, v_a, v_b, 1)
    ON CONFLICT (sdkappid, user_a, user_b) DO UPDATE SET last_seq = s.last_seq + 1
    RETURNING last_seq INTO msg_seq;
  END IF;
  msg_time := p_time;
  msg_key := msg_seq || '_' || p_random || '_' || p_time;

  INSERT INTO c2c_messages (sdkappid, user_a, user_b, msg_key, from_account, to_account, msg_seq,
                            msg_random, msg_time, body, cloud_custom_data, offline_push_info,
                            client_msg_id)
  VALUES (p_app, v_a, v_b, msg_key, p_from, p_to, msg_seq, p_random, p_time, p_body, p_cloud,
          p_push, p_client_msg_id);

  receiver_seq := parley_timeline_append(p_app, p_to, 1::SMALLINT, p_from, msg_key, 0, p_time);
  INSERT INTO conversations AS c (sdkappid, owner, peer, last_msg_key, last_msg_time, unread)
  VALUES (p_app, p_to, p_from, msg_key, p_time, CASE WHEN p_count_unread THEN 1 ELSE 0 END)
  ON CONFLICT (sdkappid, owner, peer) DO UPDATE SET
    unread = c.unread + EXCLUDED.unread,
    last_msg_key = CASE WHEN p_update_last THEN EXCLUDED.last_msg_key ELSE c.last_msg_key END,
    last_msg_time = CASE WHEN p_update_last THEN EXCLUDED.last_msg_time ELSE c.last_msg_time END;

  IF p_store_sender AND p_from <> p_to THEN
    sender_seq := parley_timeline_append(p_app, p_from, 1::SMALLINT, p_to, msg_key, 0, p_time);
    INSERT INTO conversations AS c (sdkappid, owner, peer, last_msg_key, last_msg_time)
    VALUES (p_app, p_from, p_to, msg_key, p_time)
    ON CONFLICT (sdkappid, owner, peer) DO UPDATE SET
      last_msg_key = CASE WHEN p_update_last THEN EXCLUDED.last_msg_key ELSE c.last_msg_key END,
      last_msg_time = CASE WHEN p_update_last THEN EXCLUDED.last_msg_time ELSE c.last_msg_time END;
  END IF;

  IF p_dedup <> '' THEN
    UPDATE c2c_dedup d SET msg_key = parley_c2c_send.msg_key, msg_seq = parley_c2c_send.msg_seq,
           msg_time = parley_c2c_send.msg_time, sender_seq = parley_c2c_send.sender_seq
     WHERE d.sdkappid = p_app AND d.from_account = p_from AND d.to_account = p_to
       AND d.dedup_key = p_dedup;
  END IF;
END
$fn$;
