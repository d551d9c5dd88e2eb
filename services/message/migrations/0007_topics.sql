-- Community topics (docs/architecture.md "Community topics"). A topic's
-- events have their own gapless seq under the topic's ID ("<GroupId>@TOPIC#_
-- ..."); its head names the community, so a community's topics are found
-- from its ID. Group IDs never hold "@TOPIC#_": its first occurrence ends the
-- community's ID.
ALTER TABLE group_heads ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';

CREATE FUNCTION parley_topic_parent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF strpos(NEW.group_id, '@TOPIC#_') > 1 THEN
    NEW.parent_id := left(NEW.group_id, strpos(NEW.group_id, '@TOPIC#_') - 1);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER group_heads_parent BEFORE INSERT ON group_heads
  FOR EACH ROW EXECUTE FUNCTION parley_topic_parent();
CREATE INDEX group_heads_topics ON group_heads (sdkappid, parent_id) WHERE parent_id <> '';

-- Members' read positions in topics. A member of the community reads every
-- topic; joining records the topics' heads as read, and a topic with no row
-- for a member (created after they joined) is unread from its start.
CREATE TABLE group_topic_reads (
  sdkappid   BIGINT NOT NULL,
  user_id    TEXT NOT NULL,
  topic_id   TEXT NOT NULL,
  parent_id  TEXT NOT NULL,
  read_seq   BIGINT NOT NULL,
  PRIMARY KEY (sdkappid, user_id, topic_id)
);
CREATE INDEX group_topic_reads_by_parent ON group_topic_reads (sdkappid, parent_id);
