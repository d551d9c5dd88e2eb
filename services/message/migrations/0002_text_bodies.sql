-- Message bodies are the user's data, kept exactly as they came. They are
-- stored as JSON text: JSONB cannot hold the escape \u0000 (a NUL in a text
-- message), so such a send used to fail with an internal error.
ALTER TABLE c2c_messages ALTER COLUMN body TYPE TEXT USING body::text;

-- parley_c2c_send takes the body as text, and answers a caller-chosen
-- MsgSeq/MsgRandom/MsgTimeStamp that names a stored message as a duplicate
-- (it used to fail on the primary key, and the sender was told to retry,
-- forever).
DROP FUNCTION parley_c2c_send(BIGINT, TEXT, TEXT, TEXT, BIGINT, BIGINT, BIGINT, JSONB, TEXT, JSONB,
                              TEXT, BOOLEAN, BOOLEAN, BOOLEAN);

CREATE FUNCTION parley_c2c_send(
    p_app BIGINT, p_from TEXT, p_to TEXT, p_dedup TEXT, p_msg_seq BIGINT, p_random BIGINT,
    p_time BIGINT, p_body TEXT, p_cloud TEXT, p_push JSONB, p_client_msg_id TEXT,
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
          p_push, p_client_msg_id)
  ON CONFLICT ON CONSTRAINT c2c_messages_pkey DO NOTHING;
  IF NOT FOUND THEN
    -- The caller chose MsgSeq, MsgRandom and MsgTimeStamp of a message this
    -- pair already has: Tencent's duplicate (its import dedup key). It is
    -- answered with that message and nothing is stored again.
    duplicate := true;
    IF p_dedup <> '' THEN
      UPDATE c2c_dedup d SET msg_key = parley_c2c_send.msg_key, msg_seq = parley_c2c_send.msg_seq,
             msg_time = parley_c2c_send.msg_time
       WHERE d.sdkappid = p_app AND d.from_account = p_from AND d.to_account = p_to
         AND d.dedup_key = p_dedup;
    END IF;
    RETURN;
  END IF;

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
