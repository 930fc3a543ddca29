-- The FHIR R4 API's store. Every resource an integrator sends is kept whole, version by version, so
-- that nothing another system wrote is lost; the patient registry stays the truth for identity (a
-- Patient resource is linked to its registry row), and patient_id puts every clinical resource in
-- its patient's compartment so the access checkpoint can decide on it.
CREATE TABLE fhir_resource (
    resource_type   text NOT NULL,
    id              text NOT NULL,
    version_id      integer NOT NULL,
    patient_id      TEXT REFERENCES patient(id),
    -- The unit whose record this is (the writer's assignment): inner secrecy and blocks go by it.
    unit_id         TEXT,
    last_updated    TEXT NOT NULL,
    deleted         integer NOT NULL DEFAULT 0,
    content         text NOT NULL,
    PRIMARY KEY (resource_type, id)
);
CREATE INDEX fhir_resource_patient ON fhir_resource (patient_id, resource_type);
CREATE INDEX fhir_resource_updated ON fhir_resource (resource_type, last_updated);

-- Every version ever stored, the current one included: vread and history read here.
CREATE TABLE fhir_resource_version (
    resource_type   text NOT NULL,
    id              text NOT NULL,
    version_id      integer NOT NULL,
    patient_id      TEXT,
    unit_id         TEXT,
    last_updated    TEXT NOT NULL,
    deleted         integer NOT NULL DEFAULT 0,
    content         text NOT NULL,
    PRIMARY KEY (resource_type, id, version_id)
);
CREATE INDEX fhir_resource_version_type ON fhir_resource_version (resource_type, last_updated);

-- Search index of the current versions: one row per value of a search parameter. Tokens keep
-- system and code, strings are folded (lower case, no accents), references are "Type/id", dates
-- are the [low, high) range the value covers.
CREATE TABLE fhir_search (
    resource_type   text NOT NULL,
    id              text NOT NULL,
    param           text NOT NULL,
    patient_id      TEXT,
    system          text,
    value           text,
    low             TEXT,
    high            TEXT,
    number          REAL
);
CREATE INDEX fhir_search_value ON fhir_search (resource_type, param, value, system);
CREATE INDEX fhir_search_date ON fhir_search (resource_type, param, low);
CREATE INDEX fhir_search_resource ON fhir_search (resource_type, id);
CREATE INDEX fhir_search_patient ON fhir_search (patient_id, resource_type, param);

-- Bulk Data $export jobs (the async pattern): the files are kept until the job expires.
CREATE TABLE fhir_export_job (
    id              TEXT PRIMARY KEY,
    requested_by    TEXT NOT NULL,
    request_url     text NOT NULL,
    status          text NOT NULL,
    created_at      TEXT NOT NULL,
    completed_at    TEXT,
    error           text
);
CREATE TABLE fhir_export_file (
    job_id          TEXT NOT NULL REFERENCES fhir_export_job(id),
    resource_type   text NOT NULL,
    position        integer NOT NULL,
    -- Resources in the file: the manifest tells it without reading the content.
    lines           integer NOT NULL,
    content         text NOT NULL,
    PRIMARY KEY (job_id, resource_type, position)
);
