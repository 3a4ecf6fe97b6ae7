-- Recordings are transcribed after the call, in the background, one channel at a time; the
-- state lives here so that the work survives restarts: pending, done or failed (with why).
ALTER TABLE call_recordings ADD COLUMN transcript_state TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE call_recordings ADD COLUMN transcript_error TEXT;
-- Who said a line by name (the agent's), beside their part (caller, agent, ai).
ALTER TABLE transcripts ADD COLUMN name TEXT;
