-- +goose Up
-- careslot:expand-only
-- Treatment series (ADR 21): sessions of one type with one practitioner,
-- every every_days days, booked all or nothing in one transaction. A session
-- is an ordinary appointment row with its series and its place in it (1 to
-- count); it moves and cancels as any appointment.
CREATE TABLE series (
    id                  uuid        PRIMARY KEY,
    country             text        NOT NULL,
    patient_id          uuid        NOT NULL,  -- the account that booked it
    relative_id         uuid,                  -- the relative it is for, if any
    practitioner_id     uuid        NOT NULL,
    appointment_type_id uuid        NOT NULL,
    count               integer     NOT NULL CHECK (count BETWEEN 2 AND 52),
    every_days          integer     NOT NULL CHECK (every_days BETWEEN 1 AND 28),
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX series_patient ON series (patient_id);

ALTER TABLE appointments
    ADD COLUMN series_id    uuid,
    ADD COLUMN series_index integer,
    ADD CONSTRAINT appointments_series CHECK ((series_id IS NULL) = (series_index IS NULL) AND series_index BETWEEN 1 AND 52);
CREATE INDEX appointments_series ON appointments (series_id, series_index) WHERE series_id IS NOT NULL;

-- +goose Down
DROP INDEX appointments_series;
ALTER TABLE appointments DROP CONSTRAINT appointments_series, DROP COLUMN series_index, DROP COLUMN series_id;
DROP TABLE series;
