SELECT r.id AS ReportId, r.patient_id AS PatientId, p.family_name || ', ' || p.given_names AS PatientName, p.identifier AS Identifier,
       r.service_name AS ServiceName, r.status AS Status, r.created_at AS CreatedAt,
       (SELECT COUNT(*) FROM lab_result o WHERE o.report_id = r.id AND o.superseded_by IS NULL AND o.abnormal_flag IS NOT NULL AND o.abnormal_flag NOT IN ('N', '')) AS Abnormal,
       (SELECT COUNT(*) FROM lab_result o WHERE o.report_id = r.id AND o.superseded_by IS NULL AND o.abnormal_flag IN ('HH', 'LL', 'AA', '>', '<')) AS Critical,
       CASE WHEN p.protected_identity <> 'None' THEN 1 ELSE 0 END AS ProtectedIdentity
FROM (SELECT r.id, r.patient_id, r.service_name, r.status, r.created_at
      FROM diagnostic_report r
      WHERE r.attested_at IS NULL
        AND r.patient_id IN (SELECT e.patient_id FROM encounter e WHERE e.unit_id = :'unit' AND e.ended_at IS NULL
                             UNION SELECT e.patient_id FROM encounter e WHERE e.unit_id = :'unit' AND e.ended_at >= now() - (:'days' || ' days')::interval
                             UNION SELECT c.patient_id FROM care_relation c WHERE c.unit_id = :'unit' AND c.ends_at > now())
      ORDER BY r.created_at
      LIMIT 500) r
JOIN patient p ON p.id = r.patient_id
ORDER BY r.created_at
