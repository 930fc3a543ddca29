-- The result inbox starts from the unit's patients: those with an encounter at the unit (open or
-- ended within the care-relation window) and those with an active care relation there. With
-- patient_id in the index the encounter side is an index-only scan (47 index pages for a ward with
-- 6,000 patients in the go-live rehearsal, instead of 5,074 table pages); the new index leads with
-- the same columns, so it replaces encounter_unit_open for the ward list. Care relations are never
-- deleted, so without an index on the unit every inbox read them all.
-- IF [NOT] EXISTS: the rehearsal database had these indexes created by hand to measure them.
CREATE INDEX IF NOT EXISTS encounter_unit_patient ON encounter (unit_id, ended_at, patient_id);
DROP INDEX IF EXISTS encounter_unit_open;
CREATE INDEX IF NOT EXISTS care_relation_unit ON care_relation (unit_id, ends_at, patient_id);
