-- One ORU^R01 may carry results for several patients (one PATIENT_RESULT group each); each group is
-- matched on its own, so each may wait in quarantine on its own. Existing items are group 1.
-- SQLite cannot drop the column's UNIQUE: the table is rebuilt (nothing references it).
CREATE TABLE result_quarantine_grouped (
    id                  TEXT PRIMARY KEY,
    message_id          TEXT NOT NULL REFERENCES hl7_message(id),
    patient_group       integer NOT NULL DEFAULT 1,
    reason_code         text NOT NULL,
    reason_text         text NOT NULL,
    state               text NOT NULL,              -- Open, Filed, Rejected
    created_at          TEXT NOT NULL,
    resolved_by         TEXT REFERENCES staff(id),
    resolved_at         TEXT,
    resolved_patient_id TEXT REFERENCES patient(id),
    UNIQUE (message_id, patient_group)
);
INSERT INTO result_quarantine_grouped (id, message_id, patient_group, reason_code, reason_text, state, created_at, resolved_by, resolved_at, resolved_patient_id)
SELECT id, message_id, 1, reason_code, reason_text, state, created_at, resolved_by, resolved_at, resolved_patient_id FROM result_quarantine;
DROP TABLE result_quarantine;
ALTER TABLE result_quarantine_grouped RENAME TO result_quarantine;
CREATE INDEX result_quarantine_state ON result_quarantine (state, created_at);
