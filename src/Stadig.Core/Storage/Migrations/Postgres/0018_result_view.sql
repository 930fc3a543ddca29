-- Attest what you have seen: opening a report's own view (values, units, ranges, flags, earlier
-- values) records who opened it, and a physician's attestation of a report is accepted only after
-- that. One row per report and person, the latest opening; it carries patient_id like every
-- clinical table, so a merge moves it with the report.
CREATE TABLE result_view (
    report_id  uuid NOT NULL REFERENCES diagnostic_report(id),
    staff_id   uuid NOT NULL REFERENCES staff(id),
    patient_id uuid NOT NULL REFERENCES patient(id),
    viewed_at  timestamptz NOT NULL,
    PRIMARY KEY (report_id, staff_id)
);
CREATE INDEX result_view_patient ON result_view (patient_id);
