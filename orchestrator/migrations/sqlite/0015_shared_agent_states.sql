-- What a busy agent is doing on another node of a cluster, for the queue dashboards of every
-- node: on a call or wrapping one up, since when, and with whom.
ALTER TABLE agents_busy ADD COLUMN activity TEXT NOT NULL DEFAULT 'on_call';
ALTER TABLE agents_busy ADD COLUMN since BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agents_busy ADD COLUMN peer TEXT;
