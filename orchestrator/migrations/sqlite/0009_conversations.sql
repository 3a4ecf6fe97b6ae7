-- The customer's other conversations (web chat, SMS, e-mail...), posted by the merchant's help
-- desk or shop platform through the API or the signed inbound webhook; idempotent by the
-- source's message id.
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    customer_id BIGINT REFERENCES customers(id) ON DELETE SET NULL,
    source_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    at BIGINT NOT NULL,
    participants TEXT NOT NULL,
    subject TEXT,
    text TEXT NOT NULL,
    link TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (account_id, source_id)
);
CREATE INDEX conversations_customer ON conversations(account_id, customer_id, at);

-- Each account's secret for signing what its systems post to the inbound webhook (sealed).
CREATE TABLE inbound_webhook_secrets (
    account_id BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
