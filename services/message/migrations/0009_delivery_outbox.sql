-- Deliveries owed to the push service (v1::HandOff), one row per stored
-- batch of messages, written by the transaction that stores the batch. A
-- row is deleted once push took every delivery in it; a row still here at
-- due_at (a replica that crashed before handing off, or push down longer
-- than the in-memory retries) is leased by any replica and handed off
-- again. Online sessions would catch up by seq anyway; offline pushes exist
-- nowhere else, so this is what makes them survive. `scope` is the push
-- service the deliveries are for (the replicas' PARLEY_PUSH_TARGET): only
-- replicas handing off to that push lease the row, so deployments sharing a
-- database (test clusters do) never push each other's messages.
CREATE TABLE delivery_outbox (
  id       BIGINT PRIMARY KEY,
  scope    TEXT NOT NULL,
  due_at   TIMESTAMPTZ NOT NULL DEFAULT now() + interval '30 seconds',
  payload  BYTEA NOT NULL
);
