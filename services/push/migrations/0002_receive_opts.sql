-- Each user's receive option per one-to-one peer (Tencent's
-- setC2CReceiveMessageOpt): 0 receive and notify (no row), 1 do not
-- receive, 2 receive without a notification. Offline push reads it.
CREATE TABLE c2c_receive_opts (
  sdkappid  BIGINT NOT NULL,
  user_id   TEXT NOT NULL,
  peer      TEXT NOT NULL,
  opt       SMALLINT NOT NULL,
  PRIMARY KEY (sdkappid, user_id, peer)
);
