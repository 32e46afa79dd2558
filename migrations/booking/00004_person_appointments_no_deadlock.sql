-- +goose Up
-- Two transactions inserting overlapping rows of one person into
-- person_appointments each found the other's row and waited for it: a plain
-- INSERT into an exclusion constraint inserts before it checks, so such races
-- deadlocked (40P01, after deadlock_timeout) instead of one of them being
-- refused. ON CONFLICT DO NOTHING inserts speculatively (it waits for a
-- conflicting in-progress row without deadlocking); the trigger then raises
-- the exclusion violation itself, naming the constraint, as before. Nothing
-- catches it (no exception block, no subtransaction).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION appointments_person_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    inserted integer;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'CONFIRMED' THEN
        DELETE FROM person_appointments WHERE person_id = OLD.person_id
            AND during = tstzrange(OLD.starts_at, OLD.ends_at) AND appointment_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'CONFIRMED' THEN
        INSERT INTO person_appointments (person_id, during, country, appointment_id)
        VALUES (NEW.person_id, tstzrange(NEW.starts_at, NEW.ends_at), NEW.country, NEW.id)
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS inserted = ROW_COUNT;
        IF inserted = 0 THEN
            RAISE EXCEPTION 'person % already has an appointment overlapping %', NEW.person_id, tstzrange(NEW.starts_at, NEW.ends_at)
                USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'person_appointments_no_overlap', TABLE = 'person_appointments';
        END IF;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION appointments_person_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'CONFIRMED' THEN
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
