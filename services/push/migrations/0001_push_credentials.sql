-- Offline push credentials per app, channel and business ID. The credential
-- is the serialized parley.v1.PushCredential, base64; it holds secrets and
-- is never answered or logged.
CREATE TABLE push_credentials (
  sdkappid    BIGINT NOT NULL,
  channel     TEXT NOT NULL,
  business_id BIGINT NOT NULL,
  credential  TEXT NOT NULL,
  update_time BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, channel, business_id)
);
