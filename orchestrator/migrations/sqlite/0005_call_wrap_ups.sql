-- What the people who handled a call wrote after it: an outcome chosen from the account's
-- wrap-up codes and free notes. One row per person per call (saving again replaces it).
CREATE TABLE call_wrap_ups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id BIGINT NOT NULL REFERENCES call_records(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    extension TEXT,
    outcome TEXT,
    notes TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (call_id, user_id)
);
