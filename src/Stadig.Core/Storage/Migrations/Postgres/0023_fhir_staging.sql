-- The FHIR resources and search index rows of a large lab message, written in the same short batches
-- as its lines (lab_result_staging) before the message is filed: nothing that reads FHIR looks here,
-- and the filing transaction moves an attempt's rows into fhir_resource, fhir_resource_version and
-- fhir_search in a few INSERT … SELECT, so its length no longer grows with the message. As with the
-- lines, no patient column: the staged resources name their subject by a placeholder reference that
-- filing replaces with the patient the message is filed on. batch numbers the staging transactions
-- so that a filed or rejected message's rows are removed a batch at a time, never in one long delete.
CREATE TABLE fhir_resource_staging (
    attempt_id      uuid NOT NULL,
    message_id      uuid NOT NULL REFERENCES hl7_message(id),
    batch           integer NOT NULL,
    patient_group   integer NOT NULL,
    resource_type   text COLLATE "C" NOT NULL,
    id              text COLLATE "C" NOT NULL,
    unit_id         uuid,
    content         text NOT NULL
);
CREATE INDEX fhir_resource_staging_message ON fhir_resource_staging (message_id, batch);

CREATE TABLE fhir_search_staging (
    attempt_id      uuid NOT NULL,
    message_id      uuid NOT NULL REFERENCES hl7_message(id),
    batch           integer NOT NULL,
    patient_group   integer NOT NULL,
    resource_type   text COLLATE "C" NOT NULL,
    id              text COLLATE "C" NOT NULL,
    param           text COLLATE "C" NOT NULL,
    system          text COLLATE "C",
    value           text COLLATE "C",
    low             timestamptz,
    high            timestamptz,
    number          double precision
);
CREATE INDEX fhir_search_staging_message ON fhir_search_staging (message_id, batch);
