-- Clinical record: encounters, notes, lab results, warnings; and the merge trail.
-- Every clinical table carries patient_id and is read by it (the distribution key, see DESIGN.md).
CREATE TABLE patient_merge (
    id                  TEXT PRIMARY KEY,
    source_patient_id   TEXT NOT NULL REFERENCES patient(id),
    target_patient_id   TEXT NOT NULL REFERENCES patient(id),
    merged_at           TEXT NOT NULL,
    merged_by           TEXT NOT NULL REFERENCES staff(id),
    reason              text NOT NULL
);
CREATE INDEX patient_merge_source ON patient_merge (source_patient_id);
CREATE INDEX patient_merge_target ON patient_merge (target_patient_id);

CREATE TABLE encounter (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL REFERENCES patient(id),
    unit_id     TEXT NOT NULL REFERENCES care_unit(id),
    kind        text NOT NULL,
    bed         text,
    started_at  TEXT NOT NULL,
    ended_at    TEXT
);
CREATE INDEX encounter_patient ON encounter (patient_id, started_at DESC);

CREATE TABLE note (
    id              TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL REFERENCES patient(id),
    encounter_id    TEXT REFERENCES encounter(id),
    unit_id         TEXT NOT NULL REFERENCES care_unit(id),
    note_type       text NOT NULL,
    status          text NOT NULL,
    author_id       TEXT NOT NULL REFERENCES staff(id),
    signer_id       TEXT REFERENCES staff(id),
    signed_at       TEXT,
    content_sha256  text,
    created_at      TEXT NOT NULL
);
CREATE INDEX note_patient ON note (patient_id, created_at DESC);

CREATE TABLE note_keyword (
    note_id     TEXT NOT NULL REFERENCES note(id),
    patient_id  TEXT NOT NULL REFERENCES patient(id),
    position    integer NOT NULL,
    keyword     text NOT NULL,
    text        text NOT NULL,
    PRIMARY KEY (note_id, position)
);
CREATE INDEX note_keyword_patient ON note_keyword (patient_id);

CREATE TABLE lab_result (
    id              TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL REFERENCES patient(id),
    unit_id         TEXT NOT NULL REFERENCES care_unit(id),
    analysis_code   text NOT NULL,
    analysis_name   text NOT NULL,
    value_numeric   REAL,
    value_text      text,
    unit            text,
    reference_low   REAL,
    reference_high  REAL,
    abnormal_flag   text,
    status          text NOT NULL,
    observed_at     TEXT NOT NULL
);
CREATE INDEX lab_result_patient ON lab_result (patient_id, observed_at DESC);

CREATE TABLE warning (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL REFERENCES patient(id),
    unit_id     TEXT NOT NULL REFERENCES care_unit(id),
    category    text NOT NULL,
    text        text NOT NULL,
    agent       text,
    reaction    text,
    severity    text,
    certainty   text,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES staff(id)
);
CREATE INDEX warning_patient ON warning (patient_id);
