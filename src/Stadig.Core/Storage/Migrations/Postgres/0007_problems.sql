-- Warnings are inactivated with a reason, never deleted; problems/diagnoses (ICD-10-SE) per patient.
ALTER TABLE warning ADD COLUMN inactivated_at timestamptz;
ALTER TABLE warning ADD COLUMN inactivated_by uuid REFERENCES staff(id);
ALTER TABLE warning ADD COLUMN inactivation_reason text;

CREATE TABLE problem (
    id           uuid PRIMARY KEY,
    patient_id   uuid NOT NULL REFERENCES patient(id),
    unit_id      uuid NOT NULL REFERENCES care_unit(id),
    code         text NOT NULL,
    text         text NOT NULL,
    status       text NOT NULL,
    onset_date   date,
    recorded_at  timestamptz NOT NULL,
    recorded_by  uuid NOT NULL REFERENCES staff(id),
    resolved_at  timestamptz,
    resolved_by  uuid REFERENCES staff(id)
);
CREATE INDEX problem_patient ON problem (patient_id);
