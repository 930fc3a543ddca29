SELECT r.id AS ReportId, r.patient_id AS PatientId, p.family_name || ', ' || p.given_names AS PatientName, p.identifier AS Identifier,
       r.service_name AS ServiceName, r.status AS Status, r.created_at AS CreatedAt,
       (SELECT COUNT(*) FROM lab_result o WHERE o.report_id = r.id AND o.superseded_by IS NULL AND o.abnormal_flag IS NOT NULL AND o.abnormal_flag NOT IN ('N', '')) AS Abnormal,
       (SELECT COUNT(*) FROM lab_result o WHERE o.report_id = r.id AND o.superseded_by IS NULL AND o.abnormal_flag IN ('HH', 'LL', 'AA', '>', '<')) AS Critical,
       CASE WHEN p.protected_identity <> 'None' THEN 1 ELSE 0 END AS ProtectedIdentity
FROM diagnostic_report r JOIN patient p ON p.id = r.patient_id
WHERE r.attested_at IS NULL
  AND (EXISTS (SELECT 1 FROM encounter e WHERE e.patient_id = r.patient_id AND e.unit_id = :'unit' AND (e.ended_at IS NULL OR e.ended_at >= now() - (:'days' || ' days')::interval))
       OR EXISTS (SELECT 1 FROM care_relation c WHERE c.patient_id = r.patient_id AND c.unit_id = :'unit' AND c.ends_at > now()))
ORDER BY r.created_at
LIMIT 500
