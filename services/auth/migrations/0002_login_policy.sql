-- Multi-device policy per app: 'platform_class' (one session per mobile /
-- desktop / web class; a new login kicks the older one) or 'multi'.
ALTER TABLE apps ADD COLUMN login_policy TEXT NOT NULL DEFAULT 'platform_class'
  CHECK (login_policy IN ('platform_class', 'multi'));
