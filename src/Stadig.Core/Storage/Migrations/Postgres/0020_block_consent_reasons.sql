-- Blocks and consents are set and lifted at the patient's request, on the patient's chart: each
-- keeps why (the patient's request as told), and who lifted or revoked it and why. Older rows have none.
ALTER TABLE patient_block ADD COLUMN reason text;
ALTER TABLE patient_block ADD COLUMN lifted_by uuid REFERENCES staff(id);
ALTER TABLE patient_block ADD COLUMN lift_reason text;
ALTER TABLE consent ADD COLUMN reason text;
ALTER TABLE consent ADD COLUMN revoked_by uuid REFERENCES staff(id);
ALTER TABLE consent ADD COLUMN revoke_reason text;
