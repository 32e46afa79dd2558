-- pgbench script: the booking write path's physical bound on this machine.
-- The same shape as a booking: one idempotency key, one appointment row
-- (ON CONFLICT DO NOTHING against the exclusion constraint) and one outbox
-- row, one transaction, durable commit; 20 practitioners, random 20-minute
-- slots over 60 days, so clients contend like the router benchmark.
\set p random(1, 20)
\set slot random(0, 5759)
\set person random(1, 2000000000)
BEGIN;
INSERT INTO idempotency_keys (subject, key, operation, request_hash, appointment_id)
  VALUES (md5(:person::text), md5(random()::text), 'book', '\x00', gen_random_uuid());
INSERT INTO appointments (country, id, practitioner_id, patient_id, person_id, appointment_type_id, location_id,
                          status, starts_at, ends_at, blocked)
  VALUES ('fr', gen_random_uuid(), md5(:p::text)::uuid, md5(:person::text)::uuid, md5(:person::text)::uuid,
          md5('type')::uuid, md5('loc')::uuid, 'CONFIRMED',
          timestamptz '2030-01-01 08:00+00' + (:slot * interval '15 minutes'),
          timestamptz '2030-01-01 08:20+00' + (:slot * interval '15 minutes'),
          tstzrange(timestamptz '2030-01-01 08:00+00' + (:slot * interval '15 minutes'),
                    timestamptz '2030-01-01 08:20+00' + (:slot * interval '15 minutes')))
  ON CONFLICT DO NOTHING;
INSERT INTO outbox (id, topic, key, type, payload)
  VALUES (gen_random_uuid(), 'booking-events', md5(:p::text), 'careslot.booking.AppointmentBooked.v1', '\x7b7d');
COMMIT;
