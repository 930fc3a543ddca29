-- The observations of a large lab message, written in short batches before the message is filed
-- (IngestOruMessage): nothing that shows the record reads this table, and filing moves a message's
-- rows into lab_result in one short transaction, so a crash or fault mid-message leaves no half-filed
-- result and no long write holds up other messages. attempt_id keeps two concurrent tries of one
-- message apart; filing or rejecting the message deletes all of its rows, leftovers of a crash too.
-- No patient column: a line is bound to its patient only when it is filed (patient_group names the
-- message's PATIENT_RESULT group).
CREATE TABLE lab_result_staging (
    attempt_id          TEXT NOT NULL,
    id                  TEXT NOT NULL,
    message_id          TEXT NOT NULL REFERENCES hl7_message(id),
    patient_group       integer NOT NULL,
    report_id           TEXT NOT NULL,
    unit_id             TEXT NOT NULL,
    analysis_code       text NOT NULL,
    analysis_name       text NOT NULL,
    value_numeric       REAL,
    value_text          text,
    unit                text,
    reference_low       REAL,
    reference_high      REAL,
    abnormal_flag       text,
    status              text NOT NULL,
    observed_at         TEXT NOT NULL,
    filler_order_number text,
    value_type          text,
    reference_range     text,
    performer           text,
    comment             text,
    attachment_type     text,
    attachment_data     BLOB,
    PRIMARY KEY (attempt_id, id)
);
CREATE INDEX lab_result_staging_message ON lab_result_staging (message_id);
