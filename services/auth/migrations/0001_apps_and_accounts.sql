-- Apps (tenants). The secret key is the UserSig HMAC key.
CREATE TABLE apps (
  sdkappid    BIGINT PRIMARY KEY,
  name        TEXT NOT NULL DEFAULT '',
  secret_key  TEXT NOT NULL,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- At most five per app (enforced by the service).
CREATE TABLE app_admins (
  sdkappid  BIGINT NOT NULL REFERENCES apps (sdkappid) ON DELETE CASCADE,
  user_id   TEXT NOT NULL,
  PRIMARY KEY (sdkappid, user_id)
);

CREATE TABLE accounts (
  sdkappid    BIGINT NOT NULL,
  user_id     TEXT NOT NULL,
  nick        TEXT NOT NULL DEFAULT '',
  face_url    TEXT NOT NULL DEFAULT '',
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (sdkappid, user_id)
);
