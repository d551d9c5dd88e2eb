-- Per-app callback settings (compat reference §6.1).
CREATE TABLE callback_settings (
  sdkappid          BIGINT PRIMARY KEY,
  url               TEXT NOT NULL DEFAULT '',
  token             TEXT NOT NULL DEFAULT '',
  enabled_commands  TEXT[] NOT NULL DEFAULT '{}',
  enable_all        BOOLEAN NOT NULL DEFAULT false,
  refuse_on_failure BOOLEAN NOT NULL DEFAULT false
);
