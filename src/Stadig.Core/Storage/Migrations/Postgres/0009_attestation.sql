-- Attestation (vidimering): the responsible physician confirms having seen a result report.
ALTER TABLE diagnostic_report ADD COLUMN attested_by uuid REFERENCES staff(id);
ALTER TABLE diagnostic_report ADD COLUMN attested_at timestamptz;
CREATE INDEX diagnostic_report_unattested ON diagnostic_report (attested_at, created_at);
