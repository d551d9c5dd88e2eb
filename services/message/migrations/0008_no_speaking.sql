-- Global mutes (openconfigsvr/setnospeaking): until when a user's client
-- sends are refused, one-to-one and group apart (unix seconds; 0: not muted;
-- 4294967295: for ever). No row: not muted.
CREATE TABLE no_speaking (
  sdkappid     BIGINT NOT NULL,
  user_id      TEXT NOT NULL,
  c2c_until    BIGINT NOT NULL DEFAULT 0,
  group_until  BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (sdkappid, user_id)
);
