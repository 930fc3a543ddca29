-- Name search of two words or more (PatientRegistry.AddPairBranches): each pair of name columns two words
-- can start is one range scan with both words in the index condition, instead of reading every
-- patient whose given name starts with one word ("anna": 20,000 at 1,000,000 patients) to filter
-- by the other.
--
-- The first given name, then the family name: "anna andersson" is split_part = 'anna' and a
-- family_search range, in result order. (The last given name has patient_name_given_last.)
CREATE INDEX patient_name_given_first ON patient (split_part(given_search, ' ', 1), family_search, given_search, identifier)
    INCLUDE (id) WHERE merged_into_id IS NULL;

-- A word in the middle of a name (a given name between the first and the last, or the middle of a
-- family name of three words) starts no indexed column, so the pairs above cannot find it. These
-- hold only the patients who have one (1.4 % at 1,000,000), so searching them by the other word
-- reads a few hundred entries. The predicate is repeated verbatim in the query, which is what lets
-- the planner use a partial index; it counts spaces because a LIKE '% % %' costs 0.2 ms of planning
-- per branch (PostgreSQL estimates it by matching the column's statistics).
CREATE INDEX patient_name_middle_family ON patient (family_search, given_search, identifier)
    INCLUDE (id) WHERE merged_into_id IS NULL AND (length(given_search) - length(replace(given_search, ' ', '')) > 1 OR length(family_search) - length(replace(family_search, ' ', '')) > 1);
CREATE INDEX patient_name_middle_given ON patient (given_search, family_search, identifier)
    INCLUDE (id) WHERE merged_into_id IS NULL AND (length(given_search) - length(replace(given_search, ' ', '')) > 1 OR length(family_search) - length(replace(family_search, ' ', '')) > 1);
CREATE INDEX patient_name_middle_given_last ON patient (given_last_search, family_search, given_search, identifier)
    INCLUDE (id) WHERE merged_into_id IS NULL AND (length(given_search) - length(replace(given_search, ' ', '')) > 1 OR length(family_search) - length(replace(family_search, ' ', '')) > 1);
