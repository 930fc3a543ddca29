-- Discharge medication (issue #18 item 5): at discharge each current ordination is reconciled —
-- continued, changed or stopped — as a new version with its reason, like any change. The version names
-- the admission (the inpatient encounter open when it was reconciled) whose discharge it belongs to, so
-- the discharge summary prints the list as it was reconciled for that stay.
ALTER TABLE medication_order_version ADD COLUMN discharge_encounter_id TEXT REFERENCES encounter(id);
CREATE INDEX medication_order_version_discharge ON medication_order_version (discharge_encounter_id) WHERE discharge_encounter_id IS NOT NULL;
