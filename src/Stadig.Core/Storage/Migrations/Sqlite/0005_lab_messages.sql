-- Lab integration: every HL7 v2 message in or out with its state and state history, the quarantine
-- worklist for results that could not be bound to exactly one patient, and diagnostic reports.

CREATE TABLE hl7_message (
    id                  TEXT PRIMARY KEY,
    direction           text NOT NULL,              -- Inbound, Outbound
    control_id          text,                       -- MSH-10; null only for bytes that could not be read as a message
    sending_application text NOT NULL,
    sending_facility    text NOT NULL,
    message_type        text NOT NULL,
    received_at         TEXT NOT NULL,
    byte_count          integer NOT NULL,
    raw_text            text NOT NULL,
    state               text NOT NULL,              -- Received, Filed, Quarantined, Rejected
    state_changed_at    TEXT NOT NULL,
    patient_id          TEXT REFERENCES patient(id),
    ack_code            text,
    ack_text            text,
    UNIQUE (direction, sending_facility, control_id)
);
CREATE INDEX hl7_message_by_state ON hl7_message (state, state_changed_at);

CREATE TABLE hl7_message_state (
    message_id  TEXT NOT NULL REFERENCES hl7_message(id),
    seq         integer NOT NULL,
    state       text NOT NULL,
    at          TEXT NOT NULL,
    reason      text,
    PRIMARY KEY (message_id, seq)
);

CREATE TABLE result_quarantine (
    id                  TEXT PRIMARY KEY,
    message_id          TEXT NOT NULL UNIQUE REFERENCES hl7_message(id),
    reason_code         text NOT NULL,
    reason_text         text NOT NULL,
    state               text NOT NULL,              -- Open, Filed, Rejected
    created_at          TEXT NOT NULL,
    resolved_by         TEXT REFERENCES staff(id),
    resolved_at         TEXT,
    resolved_patient_id TEXT REFERENCES patient(id)
);
CREATE INDEX result_quarantine_state ON result_quarantine (state, created_at);

CREATE TABLE diagnostic_report (
    id                  TEXT PRIMARY KEY,
    patient_id          TEXT NOT NULL REFERENCES patient(id),
    unit_id             TEXT NOT NULL REFERENCES care_unit(id),
    message_id          TEXT NOT NULL REFERENCES hl7_message(id),
    placer_order_number text,
    filler_order_number text,
    service_code        text NOT NULL,
    service_name        text NOT NULL,
    status              text NOT NULL,
    report_text         text,
    observed_at         TEXT,
    created_at          TEXT NOT NULL
);
CREATE INDEX diagnostic_report_patient ON diagnostic_report (patient_id, created_at DESC);

ALTER TABLE lab_result ADD COLUMN report_id TEXT REFERENCES diagnostic_report(id);
ALTER TABLE lab_result ADD COLUMN message_id TEXT REFERENCES hl7_message(id);
ALTER TABLE lab_result ADD COLUMN filler_order_number text;
ALTER TABLE lab_result ADD COLUMN value_type text;
ALTER TABLE lab_result ADD COLUMN reference_range text;
ALTER TABLE lab_result ADD COLUMN performer text;
ALTER TABLE lab_result ADD COLUMN superseded_by TEXT REFERENCES lab_result(id);
CREATE INDEX lab_result_order ON lab_result (patient_id, filler_order_number, analysis_code);
