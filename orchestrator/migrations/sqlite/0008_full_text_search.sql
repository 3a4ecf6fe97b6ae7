-- Backend-specific: each database's own full-text search (the schema test lets this pair differ).
-- Full-text search over what was said and written about calls: transcripts and wrap-up notes
-- and outcomes, each indexed by FTS5 over its own table (external content, kept current by
-- triggers). Numbers, customer names and AI summaries are matched as substrings instead (no
-- trigger on call_records: its INSERT ... RETURNING then left the writer's transaction unable
-- to commit, "database is locked").
CREATE VIRTUAL TABLE transcripts_fts USING fts5(
    text, content='transcripts', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
INSERT INTO transcripts_fts(rowid, text) SELECT id, text FROM transcripts;
CREATE TRIGGER transcripts_fts_insert AFTER INSERT ON transcripts BEGIN
    INSERT INTO transcripts_fts(rowid, text) VALUES (NEW.id, NEW.text);
END;
CREATE TRIGGER transcripts_fts_delete AFTER DELETE ON transcripts BEGIN
    INSERT INTO transcripts_fts(transcripts_fts, rowid, text) VALUES ('delete', OLD.id, OLD.text);
END;
CREATE TRIGGER transcripts_fts_update AFTER UPDATE OF text ON transcripts BEGIN
    INSERT INTO transcripts_fts(transcripts_fts, rowid, text) VALUES ('delete', OLD.id, OLD.text);
    INSERT INTO transcripts_fts(rowid, text) VALUES (NEW.id, NEW.text);
END;

CREATE VIRTUAL TABLE wrap_ups_fts USING fts5(
    outcome, notes, content='call_wrap_ups', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
INSERT INTO wrap_ups_fts(rowid, outcome, notes) SELECT id, COALESCE(outcome, ''), notes FROM call_wrap_ups;
CREATE TRIGGER wrap_ups_fts_insert AFTER INSERT ON call_wrap_ups BEGIN
    INSERT INTO wrap_ups_fts(rowid, outcome, notes) VALUES (NEW.id, COALESCE(NEW.outcome, ''), NEW.notes);
END;
CREATE TRIGGER wrap_ups_fts_delete AFTER DELETE ON call_wrap_ups BEGIN
    INSERT INTO wrap_ups_fts(wrap_ups_fts, rowid, outcome, notes)
        VALUES ('delete', OLD.id, COALESCE(OLD.outcome, ''), OLD.notes);
END;
CREATE TRIGGER wrap_ups_fts_update AFTER UPDATE OF outcome, notes ON call_wrap_ups BEGIN
    INSERT INTO wrap_ups_fts(wrap_ups_fts, rowid, outcome, notes)
        VALUES ('delete', OLD.id, COALESCE(OLD.outcome, ''), OLD.notes);
    INSERT INTO wrap_ups_fts(rowid, outcome, notes) VALUES (NEW.id, COALESCE(NEW.outcome, ''), NEW.notes);
END;
