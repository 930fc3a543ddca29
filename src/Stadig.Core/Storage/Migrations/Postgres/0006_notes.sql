-- Note lifecycle: drafts saved with a version (a stale save is a conflict, never an overwrite),
-- the physician responsible for signing (the unsigned worklist), countersigning, and amendments
-- as new notes linked to the one they amend (signed content never changes).
ALTER TABLE note ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE note ADD COLUMN updated_at timestamptz;
ALTER TABLE note ADD COLUMN updated_by uuid REFERENCES staff(id);
ALTER TABLE note ADD COLUMN responsible_signer_id uuid REFERENCES staff(id);
ALTER TABLE note ADD COLUMN amends_note_id uuid REFERENCES note(id);
ALTER TABLE note ADD COLUMN countersigner_id uuid REFERENCES staff(id);
ALTER TABLE note ADD COLUMN countersigned_at timestamptz;
ALTER TABLE note ADD COLUMN client_request_id text;
CREATE UNIQUE INDEX note_client_request ON note (client_request_id);
CREATE INDEX note_unsigned_by_signer ON note (responsible_signer_id, status);
CREATE INDEX note_amends ON note (amends_note_id);
