INSERT INTO diagnostic_report (id, patient_id, unit_id, message_id, service_code, service_name, status, created_at)
SELECT gen_random_uuid(), p.id, '19ab2e13-1306-7092-82f9-b004473d3dc1', (SELECT message_id FROM diagnostic_report LIMIT 1), 'SYN', 'Syntetiskt', 'final',
       now() - interval '30 days' + (random() * interval '30 days')
FROM patient p TABLESAMPLE BERNOULLI (:pct) REPEATABLE (42);
