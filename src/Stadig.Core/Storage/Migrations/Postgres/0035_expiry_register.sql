-- The expiry register (issue #22): contracts, licences and other dependencies with an expiry date and an
-- owner, entered by administrators (each change audited). TLS certificates and signing keys are read
-- from configuration instead and never stored here. Not patient data. A removed entry keeps its row
-- (removed_at) so the register's history stays readable.
CREATE TABLE expiry_register (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL,
    name        text NOT NULL,
    owner       text NOT NULL,
    -- The last day the licence or contract is valid, as yyyy-MM-dd in the region's calendar.
    expires_on  text COLLATE "C" NOT NULL,
    note        text,
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    removed_at  timestamptz,
    removed_by  text
);
CREATE INDEX expiry_register_expires ON expiry_register (expires_on);
