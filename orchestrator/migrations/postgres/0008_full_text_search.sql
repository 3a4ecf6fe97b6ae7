-- Backend-specific: each database's own full-text search (the schema test lets this pair differ).
-- Full-text search over what was said and written about calls: transcripts and wrap-up notes
-- and outcomes, by PostgreSQL's text search ('simple' configuration: no
-- language's stemming, as callers mix languages), with GIN indexes on the same expressions
-- the queries use. Numbers, customer names and AI summaries are matched as substrings instead.
CREATE INDEX transcripts_fts ON transcripts USING GIN (to_tsvector('simple', text));
CREATE INDEX call_wrap_ups_fts ON call_wrap_ups
    USING GIN (to_tsvector('simple', COALESCE(outcome, '') || ' ' || notes));
