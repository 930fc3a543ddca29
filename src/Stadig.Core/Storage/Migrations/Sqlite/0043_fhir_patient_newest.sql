-- A registry patient's stored Patient, the newest first (the FHIR read by registry id, the search's page,
-- the audit log's patient reference: "WHERE resource_type = 'Patient' AND patient_id = … ORDER BY
-- last_updated DESC LIMIT 1"), found and ordered by one index. With only (patient_id, resource_type),
-- SQLite, which keeps no statistics here, walked (resource_type, last_updated) instead: every stored
-- Patient from the newest until that patient's, some 20 ms a read at 20,000 patients and growing with
-- the table (docs/benchmarks.md, tenth run). The new index's prefix serves what the old one did.
CREATE INDEX fhir_resource_patient_newest ON fhir_resource (patient_id, resource_type, last_updated);
DROP INDEX fhir_resource_patient;
