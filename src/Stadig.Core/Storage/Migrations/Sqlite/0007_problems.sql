-- Warnings are inactivated with a reason, never deleted; problems/diagnoses (ICD-10-SE) per patient.
ALTER TABLE warning ADD COLUMN inactivated_at TEXT;
ALTER TABLE warning ADD COLUMN inactivated_by TEXT REFERENCES staff(id);
ALTER TABLE warning ADD COLUMN inactivation_reason text;

CREATE TABLE problem (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL REFERENCES patient(id),
    unit_id      TEXT NOT NULL REFERENCES care_unit(id),
    code         text NOT NULL,
    text         text NOT NULL,
    status       text NOT NULL,
    onset_date   TEXT,
    recorded_at  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL REFERENCES staff(id),
    resolved_at  TEXT,
    resolved_by  TEXT REFERENCES staff(id)
);
CREATE INDEX problem_patient ON problem (patient_id);
