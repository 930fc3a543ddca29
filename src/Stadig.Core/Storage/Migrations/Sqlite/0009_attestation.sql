-- Attestation (vidimering): the responsible physician confirms having seen a result report.
ALTER TABLE diagnostic_report ADD COLUMN attested_by TEXT REFERENCES staff(id);
ALTER TABLE diagnostic_report ADD COLUMN attested_at TEXT;
CREATE INDEX diagnostic_report_unattested ON diagnostic_report (attested_at, created_at);
