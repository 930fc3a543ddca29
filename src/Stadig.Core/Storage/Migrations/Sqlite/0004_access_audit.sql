-- Access control (care relations, consent, blocks, emergency access, unit groups) and the audit log.

-- Units the care provider groups together: staff of one see the others' records by default (inner secrecy).
CREATE TABLE unit_group_member (
    group_name  text NOT NULL,
    unit_id     TEXT NOT NULL REFERENCES care_unit(id),
    PRIMARY KEY (group_name, unit_id)
);

-- A care relation recorded explicitly (besides the ones implied by encounters): which unit, why, until when.
CREATE TABLE care_relation (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL REFERENCES patient(id),
    unit_id     TEXT NOT NULL REFERENCES care_unit(id),
    reason      text NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES staff(id),
    ends_at     TEXT NOT NULL
);
CREATE INDEX care_relation_patient ON care_relation (patient_id, unit_id);

-- The patient's consent that a unit may see other units' records (scope: one source unit, or all when null).
CREATE TABLE consent (
    id              TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL REFERENCES patient(id),
    viewer_unit_id  TEXT NOT NULL REFERENCES care_unit(id),
    source_unit_id  TEXT REFERENCES care_unit(id),
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL REFERENCES staff(id),
    expires_at      TEXT NOT NULL,
    revoked_at      TEXT
);
CREATE INDEX consent_patient ON consent (patient_id);

-- The patient's block (spärr) of one unit's records from everyone outside that unit.
CREATE TABLE patient_block (
    id              TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL REFERENCES patient(id),
    blocked_unit_id TEXT NOT NULL REFERENCES care_unit(id),
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL REFERENCES staff(id),
    lifted_at       TEXT
);
CREATE INDEX patient_block_patient ON patient_block (patient_id);

-- Emergency access (nödåtkomst): who opened whose record, why, until when; reviewed afterwards.
CREATE TABLE emergency_access (
    id              TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL REFERENCES patient(id),
    staff_id        TEXT NOT NULL REFERENCES staff(id),
    unit_id         TEXT NOT NULL REFERENCES care_unit(id),
    reason          text NOT NULL,
    opened_at       TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE INDEX emergency_access_patient ON emergency_access (patient_id, staff_id);

-- The audit log. Append-only: every event is chained to the one before it in its chain (one chain
-- per patient, one for events without a patient) by SHA-256, so a changed, removed or reordered
-- event is found by `stadig verify`. The chain head is kept apart so that removing the newest event
-- is found too.
CREATE TABLE audit_event (
    id              TEXT PRIMARY KEY,
    chain_key       text NOT NULL,
    chain_seq       INTEGER NOT NULL,
    occurred_at     TEXT NOT NULL,
    staff_id        TEXT,
    staff_hsa_id    text NOT NULL,
    staff_name      text NOT NULL,
    role            text NOT NULL,
    unit_id         TEXT,
    unit_hsa_id     text NOT NULL,
    patient_id      TEXT,
    activity        text NOT NULL,
    purpose         text NOT NULL,
    resource        text NOT NULL,
    outcome         text NOT NULL,
    flags           text NOT NULL,
    detail          text,
    prev_hash       text NOT NULL,
    hash            text NOT NULL,
    UNIQUE (chain_key, chain_seq)
);
CREATE INDEX audit_event_patient ON audit_event (patient_id, occurred_at);
CREATE INDEX audit_event_staff ON audit_event (staff_hsa_id, occurred_at);
CREATE INDEX audit_event_time ON audit_event (occurred_at);

CREATE TABLE audit_chain_head (
    chain_key   text PRIMARY KEY,
    last_seq    INTEGER NOT NULL,
    last_hash   text NOT NULL
);

-- Reviews of events (logguppföljning); the review itself is also an audit event.
CREATE TABLE audit_review (
    id              TEXT PRIMARY KEY,
    audit_event_id  TEXT NOT NULL REFERENCES audit_event(id),
    reviewed_by     TEXT NOT NULL REFERENCES staff(id),
    reviewed_at     TEXT NOT NULL,
    comment         text NOT NULL
);
CREATE INDEX audit_review_event ON audit_review (audit_event_id);

-- Nobody changes or removes an audit event.
CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'audit_event is append-only');
END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'audit_event is append-only');
END;
