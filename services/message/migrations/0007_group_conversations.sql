-- Group conversations in recentcontact: pinned, and hidden (deleted) up to a
-- seq, so a deleted group conversation comes back with the next message.
ALTER TABLE group_member_seqs ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE group_member_seqs ADD COLUMN hidden_seq BIGINT NOT NULL DEFAULT 0;
-- The group's last message that updates conversations (not NoLastMsg).
ALTER TABLE group_heads ADD COLUMN last_conversation_seq BIGINT NOT NULL DEFAULT 0;

-- Messages appended one at a time (imports, retries alone) move it too.
CREATE OR REPLACE FUNCTION parley_group_append(
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
