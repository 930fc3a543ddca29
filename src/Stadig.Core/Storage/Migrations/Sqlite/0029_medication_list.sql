-- The medication list (läkemedelslista), prescribing (ordination) and administration (eMAR), issue #18.
-- An ordination is one row of medication_order (who it belongs to, where and how it came in) and its
-- versions in medication_order_version, append-only: prescribing, every change, pause, resumption and
-- stop is a new version with who, when, why, and the prescribing checks shown and overridden.
-- medication_order.current_version points at the newest, so the list reads one version per ordination.
CREATE TABLE medication_order (
    id               TEXT PRIMARY KEY,
    patient_id       TEXT NOT NULL REFERENCES patient(id),
    -- The unit that prescribed or recorded it: inner secrecy and blocks apply by it.
    unit_id          TEXT NOT NULL REFERENCES care_unit(id),
    -- Prescribed (here), OtherSystem (recorded from another system), PatientOwn (the patient's own).
    origin           text NOT NULL,
    current_version  integer NOT NULL,
    -- The current version's status (Active, Paused, Ended), so the list and the ward need not read versions.
    status           text NOT NULL,
    created_at       TEXT NOT NULL,
    created_by       TEXT NOT NULL REFERENCES staff(id)
);
CREATE INDEX medication_order_patient ON medication_order (patient_id, status);

CREATE TABLE medication_order_version (
    order_id            TEXT NOT NULL REFERENCES medication_order(id),
    version             integer NOT NULL,
    patient_id          TEXT NOT NULL REFERENCES patient(id),
    -- Prescribe, Record, Change, Pause, Resume, Stop.
    action              text NOT NULL,
    status              text NOT NULL,
    -- The product from the catalogue; its name, strength, form and ATC code as they were when prescribed.
    product_id          TEXT REFERENCES medication_product(id),
    product_text        text NOT NULL,
    atc_code            text,
    indication          text,
    dose_value          REAL,
    dose_unit           text,
    route               text,
    -- Scheduled times in the region's clock, "08:00,20:00"; or every interval_hours hours; or neither when as needed only.
    times_of_day        text,
    interval_hours      integer,
    as_needed           integer NOT NULL,
    -- As needed: at most this many doses in any 24 hours.
    max_doses_per_24h   REAL,
    duration_days       integer,
    instructions        text,
    starts_at           TEXT NOT NULL,
    ends_at             TEXT,
    -- Who prescribed: a member of staff here, or a name from another system or the patient.
    prescriber_id       TEXT REFERENCES staff(id),
    prescriber_text     text,
    -- Why it was changed, paused or stopped.
    reason              text,
    -- The prescribing checks shown before signing (JSON array of {kind, text}), and the prescriber's reason for going on.
    check_findings      text,
    override_reason     text,
    recorded_at         TEXT NOT NULL,
    recorded_by         TEXT NOT NULL REFERENCES staff(id),
    recorded_role       text NOT NULL,
    PRIMARY KEY (order_id, version)
);
CREATE INDEX medication_order_version_patient ON medication_order_version (patient_id);

-- Administration (eMAR): a dose given, not given (with a reason) or given late, by whom, with a second
-- nurse's check for high-risk products. Append-only: a correction is a new row naming the one it corrects.
CREATE TABLE medication_administration (
    id                 TEXT PRIMARY KEY,
    patient_id         TEXT NOT NULL REFERENCES patient(id),
    order_id           TEXT NOT NULL REFERENCES medication_order(id),
    order_version      integer NOT NULL,
    unit_id            TEXT NOT NULL REFERENCES care_unit(id),
    -- The scheduled time the dose answers; null for an as-needed dose.
    scheduled_at       TEXT,
    -- Given, GivenLate, NotGiven.
    outcome            text NOT NULL,
    dose_value         REAL,
    dose_unit          text,
    given_at           TEXT,
    -- Why not given, or why an as-needed dose was given.
    reason             text,
    given_by           TEXT NOT NULL REFERENCES staff(id),
    checked_by         TEXT REFERENCES staff(id),
    checked_at         TEXT,
    corrects_id        TEXT REFERENCES medication_administration(id),
    recorded_at        TEXT NOT NULL
);
CREATE INDEX medication_administration_patient ON medication_administration (patient_id, scheduled_at);
CREATE INDEX medication_administration_order ON medication_administration (order_id);
