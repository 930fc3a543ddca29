-- Bulk Data $import jobs (the async pattern, like fhir_export_job): the import runs in the server
-- process as background work, all or nothing; the poller reads the status and, once it is over, the
-- outcome (an OperationOutcome: the counts stored, or each line that failed) and the kind of failure
-- (FhirFailureKind), which the web layer answers with its HTTP status.
-- The NDJSON itself waits in a file of the node that runs the job (runner) and is gone afterwards.
CREATE TABLE fhir_import_job (
    id              uuid PRIMARY KEY,
    requested_by    uuid NOT NULL,
    status          text NOT NULL,
    lines           integer NOT NULL,
    created_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    runner          text,
    failure         text,
    outcome         text
);
