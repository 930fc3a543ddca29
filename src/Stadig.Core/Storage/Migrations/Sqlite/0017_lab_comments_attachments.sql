-- Lab content that was dropped on filing. NTE comments: after an OBX they belong to that line
-- (lab_result.comment), after an OBR to the report (diagnostic_report.comment); several NTEs or
-- repetitions are kept as lines. ED values (a PDF report in OBX-5) are kept as decoded bytes with
-- their content type instead of base64 text. On lab_result, so a merge moves them with the line;
-- list queries never select attachment_data (added last, so SQLite never reads its overflow pages for them).
ALTER TABLE lab_result ADD COLUMN comment text;
ALTER TABLE lab_result ADD COLUMN attachment_type text;
ALTER TABLE lab_result ADD COLUMN attachment_data BLOB;
ALTER TABLE diagnostic_report ADD COLUMN comment text;
