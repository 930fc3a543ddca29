-- Encounters (vårdkontakter): transfers link the admission they continued, who ended an encounter,
-- the ward list (open admissions per unit), and at most one open admission per patient and per bed.
ALTER TABLE encounter ADD COLUMN transferred_from_id TEXT REFERENCES encounter(id);
ALTER TABLE encounter ADD COLUMN started_by TEXT REFERENCES staff(id);
ALTER TABLE encounter ADD COLUMN ended_by TEXT REFERENCES staff(id);
CREATE INDEX encounter_unit_open ON encounter (unit_id, ended_at);
CREATE UNIQUE INDEX encounter_one_open_admission ON encounter (patient_id) WHERE kind = 'Inpatient' AND ended_at IS NULL;
CREATE UNIQUE INDEX encounter_one_patient_per_bed ON encounter (unit_id, bed) WHERE kind = 'Inpatient' AND ended_at IS NULL;
