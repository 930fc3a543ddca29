-- Name search (PatientRegistry.SearchByNameAsync) is a UNION of one branch per name column, each a
-- covering range scan cut at limit + 1 (SQLite has no INCLUDE: the extra columns are trailing keys).
-- Merged patients are never listed, so the indexes leave them out. The last-part indexes hold only
-- rows where the last part differs from the whole; for the others the whole-name index finds the row.
CREATE INDEX patient_name_order ON patient (family_search, given_search, identifier, id, given_last_search)
    WHERE merged_into_id IS NULL;
CREATE INDEX patient_name_family_last ON patient (family_last_search, family_search, given_search, identifier, id)
    WHERE merged_into_id IS NULL AND family_last_search <> family_search;
CREATE INDEX patient_name_given ON patient (given_search, family_search, identifier, id)
    WHERE merged_into_id IS NULL;
CREATE INDEX patient_name_given_last ON patient (given_last_search, family_search, given_search, identifier, id)
    WHERE merged_into_id IS NULL AND given_last_search <> given_search;

-- Replaced by the above; nothing else searches these columns.
DROP INDEX patient_family_search;
DROP INDEX patient_family_last_search;
DROP INDEX patient_given_search;
DROP INDEX patient_given_last_search;
