-- Agents' status changes, the ones they choose (available, away...) and the ones their calls
-- make (on_call, wrap_up, ready): each agent's timeline.
CREATE TABLE agent_status_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    extension TEXT NOT NULL,
    status TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX agent_status_events_by_agent ON agent_status_events(account_id, extension, at);
