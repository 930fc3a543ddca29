-- Organisation, staff and the patient registry.
CREATE TABLE care_provider (
    id          TEXT PRIMARY KEY,
    hsa_id      text NOT NULL UNIQUE,
    name        text NOT NULL
);

CREATE TABLE care_unit (
    id          TEXT PRIMARY KEY,
    provider_id TEXT NOT NULL REFERENCES care_provider(id),
    hsa_id      text NOT NULL UNIQUE,
    name        text NOT NULL,
    kind        text NOT NULL
);

CREATE TABLE staff (
    id              TEXT PRIMARY KEY,
    hsa_id          text NOT NULL UNIQUE,
    username        text NOT NULL UNIQUE,
    display_name    text NOT NULL,
    title           text NOT NULL,
    password_hash   text,
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    TEXT,
    is_demo         INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
);

CREATE TABLE assignment (
    id          TEXT PRIMARY KEY,
    staff_id    TEXT NOT NULL REFERENCES staff(id),
    unit_id     TEXT NOT NULL REFERENCES care_unit(id),
    role        text NOT NULL,
    purpose     text NOT NULL,
    UNIQUE (staff_id, unit_id, role)
);

CREATE TABLE patient (
    id                  TEXT PRIMARY KEY,
    identifier_kind     text NOT NULL,
    identifier          text NOT NULL UNIQUE,
    identifier_short    text NOT NULL,
    family_name         text NOT NULL,
    given_names         text NOT NULL,
    family_search       text NOT NULL,
    family_last_search  text NOT NULL,
    given_search        text NOT NULL,
    given_last_search   text NOT NULL,
    birth_date          TEXT,
    sex                 text NOT NULL,
    address_line        text,
    postal_code         text,
    city                text,
    phone               text,
    email               text,
    protected_identity  text NOT NULL DEFAULT 'none',
    deceased_date       TEXT,
    merged_into_id      TEXT REFERENCES patient(id),
    version             integer NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
-- Prefix searches are range scans (>= prefix AND < next prefix) on these (BINARY collation).
CREATE INDEX patient_identifier_short ON patient (identifier_short);
CREATE INDEX patient_family_search ON patient (family_search, given_search);
CREATE INDEX patient_family_last_search ON patient (family_last_search);
CREATE INDEX patient_given_search ON patient (given_search);
CREATE INDEX patient_given_last_search ON patient (given_last_search);

-- Idempotency: a write carrying a client request id is done once; a retry gets the first answer.
CREATE TABLE client_request (
    request_id  text PRIMARY KEY,
    operation   text NOT NULL,
    result_id   text NOT NULL,
    created_at  TEXT NOT NULL
);

-- What kind of installation this database is: 'demo', 'training' or 'production'. Demo users may
-- log in only where it is not 'production'.
CREATE TABLE installation (
    key     text PRIMARY KEY,
    value   text NOT NULL
);
