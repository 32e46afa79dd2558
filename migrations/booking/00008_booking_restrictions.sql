-- +goose Up
-- careslot:expand-only
-- No-show restrictions (ADR 21): a patient account that reached its
-- practice's no-show limit may not book that practice online (holds and
-- bookings) until `until`, unless the practice lifts it (lifted_at). One row
-- per account and practice, upserted by markNoShow in its own transaction.
-- The online booking statements read it after taking a shared advisory lock
-- on (account, practice) that markNoShow takes exclusively, so no booking
-- commits past a restriction that committed before it.
CREATE TABLE booking_restrictions (
    patient_id      uuid        NOT NULL,  -- the account that booked the no-shows
    practitioner_id uuid        NOT NULL,
    country         text        NOT NULL,
    until           timestamptz NOT NULL,
    no_shows        integer     NOT NULL CHECK (no_shows > 0),  -- counted when it was last upserted
    lifted_at       timestamptz,
    lifted_by       text,                  -- the account (or subject) that lifted it
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patient_id, practitioner_id)
);
CREATE INDEX booking_restrictions_practitioner ON booking_restrictions (practitioner_id, until);
-- A practice's no-shows of one account are counted in markNoShow.
CREATE INDEX appointments_no_shows ON appointments (patient_id, practitioner_id, starts_at) WHERE status = 'NO_SHOW';

-- +goose Down
DROP INDEX appointments_no_shows;
DROP TABLE booking_restrictions;
