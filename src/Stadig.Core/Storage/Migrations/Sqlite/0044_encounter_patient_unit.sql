-- Whether one patient has a care relation with a unit, asked per row by the worklists' and lists'
-- access rule (PatientCheckpoint.HasCareRelationSql) and by the chart's access decision: with the
-- unit and end in the index it is one index-only probe of the patient's encounters at that unit.
CREATE INDEX encounter_patient_unit ON encounter (patient_id, unit_id, ended_at);
