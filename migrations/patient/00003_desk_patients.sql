-- +goose Up
-- careslot:expand-only
-- Desk patients (ADR 21): a person record a practice holds for a caller who
-- has no account, visible to that practice only. Each practice keeps its own
-- record of a person, so nothing of one practice's record reaches another.
-- Emails are stored lower case, phones in E.164.
CREATE TABLE desk_patients (
    id              uuid        PRIMARY KEY,
    practitioner_id uuid        NOT NULL,  -- the practice holding the record
    first_name      text        NOT NULL,
    last_name       text        NOT NULL,
    birth_date      date        NOT NULL,
    email           text        CHECK (email = lower(email)),
    phone           text,
    created_by      uuid        NOT NULL,  -- the staff account that recorded it
    claimed_by      uuid,                  -- the account that claimed it (no foreign key: accounts are erased)
    claimed_at      timestamptz,
    version         bigint      NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT desk_patients_claim CHECK ((claimed_by IS NULL) = (claimed_at IS NULL))
);

-- No duplicate: one record per practice, birth date and contact. Recording
-- the caller again (or twice at once) hits one of these and returns the
-- existing record (INSERT … ON CONFLICT DO NOTHING, then read it). A caller
-- who gave no contact is matched by name instead.
CREATE UNIQUE INDEX desk_patients_by_email ON desk_patients (practitioner_id, birth_date, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX desk_patients_by_phone ON desk_patients (practitioner_id, birth_date, phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX desk_patients_by_name ON desk_patients (practitioner_id, birth_date, lower(last_name), lower(first_name))
    WHERE email IS NULL AND phone IS NULL;

-- A practice's list, newest first (keyset pages on created_at, id).
CREATE INDEX desk_patients_practice ON desk_patients (practitioner_id, created_at DESC, id DESC);

-- The records a registration may claim: unclaimed, by contact and birth date, in every practice.
CREATE INDEX desk_patients_unclaimed_email ON desk_patients (email, birth_date) WHERE claimed_by IS NULL AND email IS NOT NULL;
CREATE INDEX desk_patients_unclaimed_phone ON desk_patients (phone, birth_date) WHERE claimed_by IS NULL AND phone IS NOT NULL;

-- +goose Down
DROP TABLE desk_patients;
