-- Who ended a call (caller, callee, system), beside its disposition, which is now one of
-- answered, no_answer, busy, voicemail, abandoned, failed.
ALTER TABLE call_records ADD COLUMN hung_up_by TEXT;
UPDATE call_records SET hung_up_by = 'caller', disposition = 'answered' WHERE disposition = 'completed (caller hung up)';
UPDATE call_records SET hung_up_by = 'callee', disposition = 'answered' WHERE disposition = 'completed (callee hung up)';
UPDATE call_records SET hung_up_by = 'system', disposition = 'answered' WHERE disposition = 'completed (Switchboard hung up)';
UPDATE call_records SET disposition = 'no_answer' WHERE disposition = 'no answer';
UPDATE call_records SET hung_up_by = 'caller', disposition = 'abandoned' WHERE disposition = 'cancelled';
UPDATE call_records SET disposition = 'failed' WHERE disposition LIKE 'rejected%';
