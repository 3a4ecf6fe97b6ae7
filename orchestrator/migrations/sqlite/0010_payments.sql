-- Agent-assisted keypad payments: what the processor returned (a token, the card's brand and
-- last four, the charge's id and status), who took it and for how much. No column can hold a
-- card number or security code.
ALTER TABLE payment_tokens ADD COLUMN amount_minor BIGINT;
ALTER TABLE payment_tokens ADD COLUMN currency TEXT;
ALTER TABLE payment_tokens ADD COLUMN charge_id TEXT;
ALTER TABLE payment_tokens ADD COLUMN status TEXT NOT NULL DEFAULT 'tokenized';
ALTER TABLE payment_tokens ADD COLUMN taken_by TEXT;
CREATE INDEX payment_tokens_call ON payment_tokens(account_id, call_id);
