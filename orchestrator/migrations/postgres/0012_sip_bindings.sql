-- Phones and browsers registered with each node of a cluster, so that every node can ring
-- them: a binding with a path (the SIP proxy in front added `Path`) is reached through that
-- proxy from any node, even after the node that took the REGISTER died; one without a path is
-- reached directly (UDP) or only by its own node (a TCP or WebSocket connection it holds).
-- `path` holds the proxies' URIs, nearest first, one per line.
CREATE TABLE sip_bindings (
    node_id BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    extension TEXT NOT NULL,
    contact TEXT NOT NULL,
    path TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    transport TEXT NOT NULL,
    user_agent TEXT,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (node_id, account_id, extension, contact)
);
CREATE INDEX sip_bindings_expiry ON sip_bindings(expires_at);
