-- The result inbox counts each unattested report's abnormal and critical lines: without an index
-- on report_id that was a scan of every lab result per report (11 s per inbox at 1,000,000
-- patients in the go-live rehearsal). Seeded and older results have no report, hence partial.
CREATE INDEX lab_result_report ON lab_result (report_id) WHERE report_id IS NOT NULL;
