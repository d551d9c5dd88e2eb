-- After-send callbacks owed for stored messages (a transactional outbox).
-- A row is written in the transaction that stores the message, so a message
-- that is stored always has its callback on record, even if the process dies
-- before the event reaches the callback queue in Redis. The row is deleted
-- once the event is in Redis; rows still here at due_at (their process died,
-- or Redis was away too long) are leased by any replica and queued again.
CREATE TABLE c2c_after_outbox (
  id            BIGSERIAL PRIMARY KEY,
  sdkappid      BIGINT NOT NULL,
  from_account  TEXT NOT NULL,
  to_account    TEXT NOT NULL,
  msg_key       TEXT NOT NULL,
  command       TEXT NOT NULL,
  opt_platform  TEXT NOT NULL,
  client_ip     TEXT NOT NULL,
  due_at        TIMESTAMPTZ NOT NULL DEFAULT now() + interval '30 seconds'
);
CREATE INDEX c2c_after_outbox_due ON c2c_after_outbox (due_at);
