-- Failed logins per e-mail within the lock-out window, in the database so that every node of
-- a cluster counts the same guesses (and a restart does not forget them).
CREATE TABLE login_failures (
    email TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    since BIGINT NOT NULL
);
CREATE INDEX login_failures_since ON login_failures(since);
-- An agent claimed by one node of a cluster to offer them a queue caller: no other node rings
-- them until the claim is released or runs out (`until`, unix ms).
CREATE TABLE agent_claims (
    account_id BIGINT NOT NULL,
    extension TEXT NOT NULL,
    node_id BIGINT NOT NULL,
    until BIGINT NOT NULL,
    PRIMARY KEY (account_id, extension)
);
