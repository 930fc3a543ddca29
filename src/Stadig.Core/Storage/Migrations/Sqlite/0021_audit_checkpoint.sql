-- The audit log's anchor: see the PostgreSQL migration of the same number.
CREATE TABLE audit_checkpoint (
    seq          INTEGER PRIMARY KEY,
    taken_at     TEXT NOT NULL,
    chain_count  INTEGER NOT NULL,
    event_count  INTEGER NOT NULL,
    heads_digest text NOT NULL,
    prev_hash    text NOT NULL,
    hash         text NOT NULL
);

CREATE TABLE audit_checkpoint_chain (
    chain_key  text PRIMARY KEY,
    seq        INTEGER NOT NULL,
    hash       text NOT NULL
);

CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoint is append-only');
END;
CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoint is append-only');
END;
