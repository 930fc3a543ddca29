-- FHIR AuditEvent search by agent takes a unit's HSA-id as well as a person's: the log is searched
-- by unit on its own index, as by person, patient and time.
CREATE INDEX audit_event_unit ON audit_event (unit_hsa_id, occurred_at);

-- The node running a bulk export job: at start, a node fails the jobs it was running when it
-- stopped (they will never finish), and leaves other nodes' running jobs alone.
ALTER TABLE fhir_export_job ADD COLUMN runner text;
