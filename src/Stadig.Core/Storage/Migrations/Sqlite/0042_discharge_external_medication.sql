-- Discharge medication, the other systems' part (issue #18 item 5): a medication another system sent over
-- FHIR (MedicationRequest, MedicationStatement) stays as sent — that system owns it — so the discharge's
-- decision on it (continue, change, stop) is kept here, naming the resource and the admission. Append-only:
-- a new decision for the same resource and stay is a new row, the newest stands, the older are its history.
CREATE TABLE discharge_external_medication (
    id             TEXT PRIMARY KEY,
    patient_id     TEXT NOT NULL REFERENCES patient(id),
    encounter_id   TEXT NOT NULL REFERENCES encounter(id),
    -- "MedicationRequest/abc": the resource as the FHIR store holds it.
    resource_key   text NOT NULL,
    -- The medication's name as it was shown when decided, so the printed list reads the same if the sender deletes it.
    title          text NOT NULL,
    -- Continue, Change, Stop.
    decision       text NOT NULL,
    reason         text NOT NULL,
    -- Change: the dosage after discharge, in the physician's words.
    dosage_after   text,
    unit_id        TEXT NOT NULL REFERENCES care_unit(id),
    recorded_at    TEXT NOT NULL,
    recorded_by    TEXT NOT NULL REFERENCES staff(id),
    recorded_role  text NOT NULL
);
CREATE INDEX discharge_external_medication_stay ON discharge_external_medication (patient_id, encounter_id, recorded_at);
