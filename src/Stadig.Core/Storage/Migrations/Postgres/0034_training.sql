-- Training (issue #21). A database that already holds a region and never said what it is, is marked
-- production in so many words: a training installation refuses it, and a production one refuses a
-- database marked training (StadigHost checks at start). New databases are marked when they are set up.
INSERT INTO installation (key, value)
SELECT 'mode', 'Production'
WHERE EXISTS (SELECT 1 FROM care_provider) AND NOT EXISTS (SELECT 1 FROM installation WHERE key = 'mode');

-- Who must be trained: the production staff directory, imported (stadig training-import). One row a
-- person, with the role and unit their training is counted under.
CREATE TABLE training_roster (
    staff_id     uuid PRIMARY KEY REFERENCES staff(id),
    unit_id      uuid NOT NULL REFERENCES care_unit(id),
    role         text NOT NULL,
    imported_at  timestamptz NOT NULL
);
CREATE INDEX training_roster_unit ON training_roster (unit_id);

-- One start (or reset) of an exercise by one trainee. completed_at is set only when the exercise's
-- checks pass from recorded events; errors counts wrong patients and refused actions in the attempt.
CREATE TABLE training_attempt (
    id                uuid PRIMARY KEY,
    staff_id          uuid NOT NULL REFERENCES staff(id),
    unit_id           uuid NOT NULL REFERENCES care_unit(id),
    exercise_id       text NOT NULL,
    exercise_version  text NOT NULL,
    started_at        timestamptz NOT NULL,
    completed_at      timestamptz,
    errors            integer NOT NULL DEFAULT 0,
    error_detail      text
);
CREATE INDEX training_attempt_staff ON training_attempt (staff_id, exercise_id, started_at);

-- The trainee's own copy of the exercise's patients, by the key the exercise definition names them.
CREATE TABLE training_patient (
    attempt_id   uuid NOT NULL REFERENCES training_attempt(id),
    patient_key  text NOT NULL,
    patient_id   uuid NOT NULL REFERENCES patient(id),
    identifier   text NOT NULL,
    quarantine_control_id text,
    PRIMARY KEY (attempt_id, patient_key)
);
CREATE INDEX training_patient_patient ON training_patient (patient_id);
