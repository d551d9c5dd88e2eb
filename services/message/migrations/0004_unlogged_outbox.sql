-- The after-send outbox writes no WAL and keeps one index. Its rows were a sixth of the WAL of a
-- send with callbacks on (bench/message_bench.sh with a callback URL: 3,180-
-- 3,300 bytes per message against 2,720-2,770 without; the row is written
-- and deleted within about 100 ms), and more WAL means slower commits and
-- more frequent checkpoints for every send.
--
-- What it costs: PostgreSQL empties an unlogged table after a crash, and a
-- standby does not have it. A row only matters when the message replica
-- that wrote it dies before its event is in Redis: the replica that stays up
-- queues its events from memory whatever happened to PostgreSQL. So an
-- after-send callback is lost only if PostgreSQL crashes (or fails over) and
-- the replica that stored the message dies in the same window, before the
-- event reached Redis.
ALTER TABLE c2c_after_outbox SET UNLOGGED;

-- Nor does it keep an index on due_at: one index fewer for every send with
-- callbacks on. The table holds about 100 ms of rows while Redis takes
-- events, so the lease query every 5 s scans it whole; in a long Redis
-- outage it holds the outage's events, scanned once per 5 s.
DROP INDEX IF EXISTS c2c_after_outbox_due;
