ALTER TABLE briefings DROP COLUMN content_proto;
