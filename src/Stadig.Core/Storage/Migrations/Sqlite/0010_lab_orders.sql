-- Lab orders (remisser) and the outbox that sends them as HL7 v2 ORM^O01: every outbound message
-- is an hl7_message (direction Outbound) with a state until the lab has acknowledged it.
CREATE TABLE lab_order (
    id                  TEXT PRIMARY KEY,
    patient_id          TEXT NOT NULL REFERENCES patient(id),
    unit_id             TEXT NOT NULL REFERENCES care_unit(id),
    placer_order_number text NOT NULL UNIQUE,
    ordered_by          TEXT NOT NULL REFERENCES staff(id),
    ordered_at          TEXT NOT NULL,
    status              text NOT NULL,
    message_id          TEXT REFERENCES hl7_message(id),
    client_request_id   text UNIQUE
);
CREATE INDEX lab_order_patient ON lab_order (patient_id, ordered_at DESC);

CREATE TABLE lab_order_item (
    order_id        TEXT NOT NULL REFERENCES lab_order(id),
    patient_id      TEXT NOT NULL REFERENCES patient(id),
    position        integer NOT NULL,
    analysis_code   text NOT NULL,
    analysis_name   text NOT NULL,
    specimen        text NOT NULL,
    PRIMARY KEY (order_id, position)
);
CREATE INDEX lab_order_item_patient ON lab_order_item (patient_id);

ALTER TABLE hl7_message ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE hl7_message ADD COLUMN next_attempt_at TEXT;
