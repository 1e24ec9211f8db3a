-- The briefing content as a serialized google.protobuf.Struct, written together with the jsonb
-- column by the same statement. jsonb stays the form to query and inspect; the service reads
-- this one because decoding protobuf is many times cheaper than parsing JSON, which otherwise
-- dominates ListBriefings. Rows written without it (by hand, or before this migration) are
-- read from the jsonb column instead.
ALTER TABLE briefings ADD COLUMN content_proto bytea;
