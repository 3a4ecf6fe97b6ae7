-- Nodes of a cluster sharing this database (`serve --node-id`). Each renews its lease while it
-- runs; a node whose lease lapsed is dead, and the first other node to claim it (by deleting
-- its row) closes the calls it left open. Calls remember the node that owns them (NULL for a
-- single node without an id).
CREATE TABLE cluster_nodes (
    id BIGINT PRIMARY KEY,
    sip_addr TEXT NOT NULL DEFAULT '',
    http_addr TEXT NOT NULL DEFAULT '',
    started_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    draining BIGINT NOT NULL DEFAULT 0
);
ALTER TABLE call_records ADD COLUMN node_id BIGINT;
CREATE INDEX call_records_open_node ON call_records(node_id, ended_at);
