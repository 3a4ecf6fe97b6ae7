-- A call's recordings: dual-channel WAV files (the customer left, what they heard right)
-- written as the call goes. A call may have several (recording stopped and started again).
-- paused holds the paused intervals as JSON [[from_ms, to_ms], ...] from the file's start;
-- the file holds silence there, so that its times are the call's.
CREATE TABLE call_recordings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    call_id BIGINT NOT NULL REFERENCES call_records(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    paused TEXT NOT NULL DEFAULT '[]',
    started_by TEXT NOT NULL
);
CREATE INDEX call_recordings_call ON call_recordings(call_id);
CREATE INDEX call_recordings_account ON call_recordings(account_id, started_at);
