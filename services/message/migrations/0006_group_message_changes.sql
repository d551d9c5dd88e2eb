-- Group messages: deletion (clear_group_msg; a deleted seq reads as a
-- placeholder) and read receipts (group_msg_receipt).
ALTER TABLE group_events ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE group_receipts (
  sdkappid   BIGINT NOT NULL,
  group_id   TEXT NOT NULL,
  seq        BIGINT NOT NULL,
  user_id    TEXT NOT NULL,
  read_time  BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, group_id, seq, user_id)
);

-- A group's members (receipt counts, a disbanded group's rows).
CREATE INDEX group_member_seqs_by_group ON group_member_seqs (sdkappid, group_id, user_id);
