-- Per-app frequency limits (Tencent's defaults): REST calls per second per
-- command (commands Tencent limits lower keep their own, lower limit), and
-- sends per second of one client session.
ALTER TABLE apps ADD COLUMN rest_calls_per_second INT NOT NULL DEFAULT 200
  CHECK (rest_calls_per_second > 0);
ALTER TABLE apps ADD COLUMN client_sends_per_second INT NOT NULL DEFAULT 50
  CHECK (client_sends_per_second > 0);
