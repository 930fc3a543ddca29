-- Administration (eMAR), issue #18 item 4. A scheduled dose is recorded once: two nurses recording the
-- same dose at the same moment cannot both win, the second is told it is already recorded. A record is
-- corrected by a new row naming it (corrects_id), at most once, so each dose's record is one chain
-- whose last row is what stands; the correction says why it was made.
CREATE UNIQUE INDEX medication_administration_dose ON medication_administration (order_id, scheduled_at)
    WHERE corrects_id IS NULL AND scheduled_at IS NOT NULL;
CREATE UNIQUE INDEX medication_administration_correction ON medication_administration (corrects_id) WHERE corrects_id IS NOT NULL;
ALTER TABLE medication_administration ADD COLUMN correction_reason text;
