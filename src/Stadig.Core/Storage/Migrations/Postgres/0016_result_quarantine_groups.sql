-- One ORU^R01 may carry results for several patients (one PATIENT_RESULT group each); each group is
-- matched on its own, so each may wait in quarantine on its own. Existing items are group 1.
ALTER TABLE result_quarantine ADD COLUMN patient_group integer NOT NULL DEFAULT 1;
ALTER TABLE result_quarantine DROP CONSTRAINT result_quarantine_message_id_key;
ALTER TABLE result_quarantine ADD CONSTRAINT result_quarantine_message_group UNIQUE (message_id, patient_group);
