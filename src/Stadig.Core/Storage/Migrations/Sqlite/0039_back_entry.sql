-- Back-entry after downtime (efterregistrering, issue #19 item 3). The register of downtime periods
-- (not patient data): registered by an administrator, or suggested by a node from its own read-only
-- history (registered_by null until an administrator registers it). A back-entered record keeps its
-- original clinical time in its own table and gets one back_entry row per event (a note, an
-- observation, an admission, a transfer, a discharge, a medication administration): who entered it,
-- when, and for which period. One table for every kind, so a new kind marks itself the same way.
CREATE TABLE downtime_period (
    id              TEXT PRIMARY KEY,
    started_at      TEXT NOT NULL,
    ended_at        TEXT NOT NULL,
    description     text NOT NULL,
    -- Database (the node saw the database refuse writes), Operator (the read-only switch), Manual.
    cause           text NOT NULL,
    suggested_at    TEXT,
    registered_by   TEXT REFERENCES staff(id),
    registered_at   TEXT,
    dismissed_at    TEXT
);
CREATE INDEX downtime_period_started ON downtime_period (started_at);

CREATE TABLE back_entry (
    id                  TEXT PRIMARY KEY,
    patient_id          TEXT NOT NULL REFERENCES patient(id),
    -- Note, Observation, Encounter, MedicationAdministration: the table the record is in.
    record_type         text NOT NULL,
    record_id           TEXT NOT NULL,
    -- Note, Observation, Admission, Transfer, Discharge, Administration.
    event               text NOT NULL,
    downtime_period_id  TEXT NOT NULL REFERENCES downtime_period(id),
    clinical_at         TEXT NOT NULL,
    entered_at          TEXT NOT NULL,
    entered_by          TEXT NOT NULL REFERENCES staff(id),
    unit_id             TEXT NOT NULL REFERENCES care_unit(id)
);
CREATE UNIQUE INDEX back_entry_record_event ON back_entry (record_id, event);
CREATE INDEX back_entry_patient ON back_entry (patient_id);

-- Vital signs recorded in the chart (a value, its code and when it was observed).
CREATE TABLE vital_sign (
    id                  TEXT PRIMARY KEY,
    patient_id          TEXT NOT NULL REFERENCES patient(id),
    unit_id             TEXT NOT NULL REFERENCES care_unit(id),
    code                text NOT NULL,
    name                text NOT NULL,
    value_numeric       REAL NOT NULL,
    unit                text NOT NULL,
    observed_at         TEXT NOT NULL,
    recorded_at         TEXT NOT NULL,
    recorded_by         TEXT NOT NULL REFERENCES staff(id),
    client_request_id   text
);
CREATE INDEX vital_sign_patient ON vital_sign (patient_id, observed_at DESC);
CREATE UNIQUE INDEX vital_sign_client_request ON vital_sign (client_request_id);
