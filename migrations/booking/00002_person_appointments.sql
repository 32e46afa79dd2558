-- +goose Up
-- One person, one appointment at a time, across every country partition and
-- practice. The per-partition exclusion constraint could not see two
-- countries; person_appointments is one unpartitioned table with one
-- exclusion constraint, kept by triggers on appointments in the same
-- statement as the change (so the booking fast path stays one write
-- statement): a CONFIRMED row has exactly one person_appointments row. An
-- overlap raises exclusion_violation on person_appointments_no_overlap and
-- aborts the statement; nothing catches it in PL/pgSQL (an exception block
-- collapses under contention, see the PostgreSQL notes).
CREATE TABLE person_appointments (
    person_id      uuid      NOT NULL,
    during         tstzrange NOT NULL,  -- [starts_at, ends_at) of the appointment
    country        text      NOT NULL,
    appointment_id uuid      NOT NULL,
    CONSTRAINT person_appointments_no_overlap EXCLUDE USING gist (person_id WITH =, during WITH &&)
);

-- +goose StatementBegin
CREATE FUNCTION appointments_person_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'CONFIRMED' THEN
        -- Found through the exclusion constraint's index (person, range).
        DELETE FROM person_appointments WHERE person_id = OLD.person_id
            AND during = tstzrange(OLD.starts_at, OLD.ends_at) AND appointment_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'CONFIRMED' THEN
        INSERT INTO person_appointments (person_id, during, country, appointment_id)
        VALUES (NEW.person_id, tstzrange(NEW.starts_at, NEW.ends_at), NEW.country, NEW.id);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- The WHEN clauses keep holds and changes that move nothing (versions,
-- notes) from calling the function at all.
CREATE TRIGGER appointments_person_insert AFTER INSERT ON appointments
    FOR EACH ROW WHEN (NEW.status = 'CONFIRMED') EXECUTE FUNCTION appointments_person_sync();
CREATE TRIGGER appointments_person_update AFTER UPDATE ON appointments
    FOR EACH ROW WHEN ((OLD.status = 'CONFIRMED' OR NEW.status = 'CONFIRMED') AND (OLD.status <> NEW.status
        OR OLD.person_id <> NEW.person_id OR OLD.starts_at <> NEW.starts_at OR OLD.ends_at <> NEW.ends_at))
    EXECUTE FUNCTION appointments_person_sync();
CREATE TRIGGER appointments_person_delete AFTER DELETE ON appointments
    FOR EACH ROW WHEN (OLD.status = 'CONFIRMED') EXECUTE FUNCTION appointments_person_sync();

INSERT INTO person_appointments (person_id, during, country, appointment_id)
SELECT person_id, tstzrange(starts_at, ends_at), country, id FROM appointments WHERE status = 'CONFIRMED';

-- The per-partition person constraints are now redundant (and a cost on every booking).
-- +goose StatementBegin
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
        WHERE contype = 'x' AND conname LIKE 'appointments\_%\_no\_person\_overlap'
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE p record;
BEGIN
    FOR p IN SELECT inhrelid::regclass AS part, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'appointments'::regclass
    LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I EXCLUDE USING gist (person_id WITH =, tstzrange(starts_at, ends_at) WITH &&) WHERE (status = ''CONFIRMED'')',
            p.part, p.relname || '_no_person_overlap');
    END LOOP;
END
$$;
-- +goose StatementEnd
DROP TRIGGER appointments_person_delete ON appointments;
DROP TRIGGER appointments_person_update ON appointments;
DROP TRIGGER appointments_person_insert ON appointments;
DROP FUNCTION appointments_person_sync();
DROP TABLE person_appointments;
