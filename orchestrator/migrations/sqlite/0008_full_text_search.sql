-- Backend-specific: each database's own full-text search (the schema test lets this pair differ).
-- Full-text search over what was said and written about calls: transcripts, wrap-up notes and
-- outcomes, and AI summaries, each indexed by FTS5 over its own table (external content, kept
-- current by triggers). Numbers and customer names are matched as substrings instead.
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

CREATE VIRTUAL TABLE call_summaries_fts USING fts5(
    summary, content='call_records', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
INSERT INTO call_summaries_fts(rowid, summary) SELECT id, COALESCE(summary, '') FROM call_records;
CREATE TRIGGER call_summaries_fts_insert AFTER INSERT ON call_records BEGIN
    INSERT INTO call_summaries_fts(rowid, summary) VALUES (NEW.id, COALESCE(NEW.summary, ''));
END;
CREATE TRIGGER call_summaries_fts_delete AFTER DELETE ON call_records BEGIN
    INSERT INTO call_summaries_fts(call_summaries_fts, rowid, summary) VALUES ('delete', OLD.id, COALESCE(OLD.summary, ''));
END;
CREATE TRIGGER call_summaries_fts_update AFTER UPDATE OF summary ON call_records BEGIN
    INSERT INTO call_summaries_fts(call_summaries_fts, rowid, summary) VALUES ('delete', OLD.id, COALESCE(OLD.summary, ''));
    INSERT INTO call_summaries_fts(rowid, summary) VALUES (NEW.id, COALESCE(NEW.summary, ''));
END;
