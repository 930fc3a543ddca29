-- A Patient stored through the API is answered as the registry's facts merged over what its sender
-- wrote (FhirPatientMapping.ToFhir). That merge parses the stored resource; so it is made when the
-- Patient is written and kept here, on its current row, with what it was made from: the registry
-- version and this row's version. A read uses it only while both still hold (issue 23: no parsing
-- of stored JSON on read); after a change in the registry (an edit in the UI) it merges again.
ALTER TABLE fhir_resource ADD COLUMN answer text;
ALTER TABLE fhir_resource ADD COLUMN answer_registry_version integer;
ALTER TABLE fhir_resource ADD COLUMN answer_of_version integer;
