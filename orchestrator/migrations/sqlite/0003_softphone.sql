-- Short-lived SIP credentials for browser softphones: a signed-in agent's page gets one, so no
-- SIP password is typed into a browser. A credential registers as the user's agent extension
-- until it expires; signing in again issues a new one.
CREATE TABLE softphone_credentials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    extension TEXT NOT NULL,
    username TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
