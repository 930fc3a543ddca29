-- Two-word name search: see the PostgreSQL migration. SQLite has no split_part; the first given
-- name is the same expression the query uses (an expression index is used only for that exact
-- expression), and the covering columns are trailing keys.
CREATE INDEX patient_name_given_first ON patient (substr(given_search, 1, instr(given_search || ' ', ' ') - 1), family_search, given_search, identifier, id)
    WHERE merged_into_id IS NULL;

CREATE INDEX patient_name_middle_family ON patient (family_search, given_search, identifier, id)
    WHERE merged_into_id IS NULL AND (length(given_search) - length(replace(given_search, ' ', '')) > 1 OR length(family_search) - length(replace(family_search, ' ', '')) > 1);
CREATE INDEX patient_name_middle_given ON patient (given_search, family_search, identifier, id)
    WHERE merged_into_id IS NULL AND (length(given_search) - length(replace(given_search, ' ', '')) > 1 OR length(family_search) - length(replace(family_search, ' ', '')) > 1);
CREATE INDEX patient_name_middle_given_last ON patient (given_last_search, family_search, given_search, identifier, id)
    WHERE merged_into_id IS NULL AND (length(given_search) - length(replace(given_search, ' ', '')) > 1 OR length(family_search) - length(replace(family_search, ' ', '')) > 1);
