-- groups rows are rewritten about once a second per active group (last
-- message time and next seq, from the message service's notes) and
-- group_members rows when their sender's last send time moves. Room left on
-- each page lets PostgreSQL keep the new row version beside the old one (a
-- HOT update: no index entries to add, less to vacuum). Pages written from
-- now on keep the room.
ALTER TABLE groups SET (fillfactor = 70);
ALTER TABLE group_members SET (fillfactor = 80);
