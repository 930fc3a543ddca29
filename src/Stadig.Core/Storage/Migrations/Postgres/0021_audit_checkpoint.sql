-- The audit log's anchor. Chain heads alone cannot show that a whole chain (a patient's every
-- event and its head) was deleted; a checkpoint records, every few minutes, how many chains there
-- were and one digest over every chain's head at that moment, and is itself hash-chained to the
-- checkpoint before it. audit_checkpoint_chain holds the heads as of the newest checkpoint, so
-- verify can tell which chain was deleted or cut short.
CREATE TABLE audit_checkpoint (
    seq          bigint PRIMARY KEY,
    taken_at     timestamptz NOT NULL,
    chain_count  bigint NOT NULL,
    event_count  bigint NOT NULL,
    heads_digest text NOT NULL,
    prev_hash    text NOT NULL,
    hash         text NOT NULL
);

CREATE TABLE audit_checkpoint_chain (
    chain_key  text PRIMARY KEY,
    seq        bigint NOT NULL,
    hash       text NOT NULL
);

CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE OR DELETE ON audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION audit_event_is_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_is_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_checkpoint FROM PUBLIC;
