-- What each node of a cluster shares about its queues and live AI calls: the callers waiting
-- on it (a caller's place in line counts those on every node who came first) and the agents on a call or
-- wrapping one up on it (no node offers them another queue call). Each node rewrites its own
-- rows when they change; a dead node's rows are dropped by the node that claims it.
CREATE TABLE queue_waiting (
    node_id BIGINT NOT NULL,
    place_id BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    queue TEXT NOT NULL,
    caller TEXT,
    since BIGINT NOT NULL,
    PRIMARY KEY (node_id, place_id)
);
CREATE TABLE agents_busy (
    node_id BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    extension TEXT NOT NULL,
    PRIMARY KEY (node_id, account_id, extension)
);
-- Each node's live AI engagements (the supervisor grid's tiles, with the last lines of their
-- transcript and events, as JSON), so a grid on any node shows every node's.
CREATE TABLE live_engagements (
    node_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (node_id, id)
);
-- A supervisor's note, listen-in or takeover asked on one node for an AI call on another:
-- the node that carries the call takes the row and acts on it.
CREATE TABLE live_commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    engagement_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    by_name TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
