-- A group's head row is rewritten by every batch that appends to the group.
-- Room left on each page lets PostgreSQL put the new row version beside
-- the old one (a HOT update: no primary-key entry to add, less to vacuum).
-- Pages written from now on keep the room.
ALTER TABLE group_heads SET (fillfactor = 50);
