-- Discharge (utskrivning) as a decision with its facts: where the patient went, and when the
-- discharge was recorded (ended_at is the stated time of leaving, which may be earlier), so that an
-- undo within the window counts from the recording. The worklist also lists a writer's own drafts.
ALTER TABLE encounter ADD COLUMN discharge_destination TEXT;
ALTER TABLE encounter ADD COLUMN discharge_recorded_at TEXT;
CREATE INDEX note_drafts_by_author ON note (author_id, status);
