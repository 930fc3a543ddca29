-- Access control (care relations, consent, blocks, emergency access, unit groups) and the audit log.

-- Units the care provider groups together: staff of one see the others' records by default (inner secrecy).
CREATE TABLE unit_group_member (
    group_name  text NOT NULL,
    unit_id     uuid NOT NULL REFERENCES care_unit(id),
    PRIMARY KEY (group_name, unit_id)
);

-- A care relation recorded explicitly (besides the ones implied by encounters): which unit, why, until when.
CREATE TABLE care_relation (
    id          uuid PRIMARY KEY,
    patient_id  uuid NOT NULL REFERENCES patient(id),
    unit_id     uuid NOT NULL REFERENCES care_unit(id),
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  uuid NOT NULL REFERENCES staff(id),
    ends_at     timestamptz NOT NULL
);
CREATE INDEX care_relation_patient ON care_relation (patient_id, unit_id);

-- The patient's consent that a unit may see other units' records (scope: one source unit, or all when null).
CREATE TABLE consent (
    id              uuid PRIMARY KEY,
    patient_id      uuid NOT NULL REFERENCES patient(id),
    viewer_unit_id  uuid NOT NULL REFERENCES care_unit(id),
    source_unit_id  uuid REFERENCES care_unit(id),
    recorded_at     timestamptz NOT NULL,
    recorded_by     uuid NOT NULL REFERENCES staff(id),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz
);
CREATE INDEX consent_patient ON consent (patient_id);

-- The patient's block (spärr) of one unit's records from everyone outside that unit.
CREATE TABLE patient_block (
    id              uuid PRIMARY KEY,
    patient_id      uuid NOT NULL REFERENCES patient(id),
    blocked_unit_id uuid NOT NULL REFERENCES care_unit(id),
    created_at      timestamptz NOT NULL,
    created_by      uuid NOT NULL REFERENCES staff(id),
    lifted_at       timestamptz
);
CREATE INDEX patient_block_patient ON patient_block (patient_id);

-- Emergency access (nödåtkomst): who opened whose record, why, until when; reviewed afterwards.
CREATE TABLE emergency_access (
    id              uuid PRIMARY KEY,
    patient_id      uuid NOT NULL REFERENCES patient(id),
    staff_id        uuid NOT NULL REFERENCES staff(id),
    unit_id         uuid NOT NULL REFERENCES care_unit(id),
    reason          text NOT NULL,
    opened_at       timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX emergency_access_patient ON emergency_access (patient_id, staff_id);

-- The audit log. Append-only: every event is chained to the one before it in its chain (one chain
-- per patient, one for events without a patient) by SHA-256, so a changed, removed or reordered
-- event is found by `stadig verify`. The chain head is kept apart so that removing the newest event
-- is found too.
CREATE TABLE audit_event (
    id              uuid PRIMARY KEY,
    chain_key       text NOT NULL,
    chain_seq       bigint NOT NULL,
    occurred_at     timestamptz NOT NULL,
    staff_id        uuid,
    staff_hsa_id    text NOT NULL,
    staff_name      text NOT NULL,
    role            text NOT NULL,
    unit_id         uuid,
    unit_hsa_id     text NOT NULL,
    patient_id      uuid,
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
    last_seq    bigint NOT NULL,
    last_hash   text NOT NULL
);

-- Reviews of events (logguppföljning); the review itself is also an audit event.
CREATE TABLE audit_review (
    id              uuid PRIMARY KEY,
    audit_event_id  uuid NOT NULL REFERENCES audit_event(id),
    reviewed_by     uuid NOT NULL REFERENCES staff(id),
    reviewed_at     timestamptz NOT NULL,
    comment         text NOT NULL
);
CREATE INDEX audit_review_event ON audit_review (audit_event_id);

-- Nobody changes or removes an audit event, whatever role they connect with.
CREATE FUNCTION audit_event_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only';
END $$;
CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_is_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_is_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM PUBLIC;
