-- +goose Up
-- Booking store. PostgreSQL is the only gate against double bookings: each
-- country partition of appointments carries two exclusion constraints (added
-- when the partition is created, see subgraphs/booking/store; PostgreSQL 15
-- allows none on a partitioned parent):
--   * no two occupying rows (HELD or CONFIRMED) of one practitioner overlap
--     in their blocked range (the appointment plus the type's buffers);
--   * no person (the patient, or the relative attending) has two overlapping
--     CONFIRMED appointments.
-- Writers insert with ON CONFLICT DO NOTHING (no conflict target, which works
-- with exclusion constraints) and map "no row" to SLOT_UNAVAILABLE.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Holds and appointments, one row each. A hold is a row with a
-- hold_expires_at: HELD while it lives, EXPIRED once it expired or was turned
-- into a booking. An appointment is CONFIRMED, then maybe CANCELLED or NO_SHOW.
CREATE TABLE appointments (
    country             text        NOT NULL,
    id                  uuid        NOT NULL,
    practitioner_id     uuid        NOT NULL,
    patient_id          uuid        NOT NULL,                 -- the account that booked
    relative_id         uuid,                                 -- the relative it is for, if any
    person_id           uuid        NOT NULL,                 -- who attends: relative_id or patient_id
    appointment_type_id uuid        NOT NULL,
    location_id         uuid        NOT NULL,
    status              text        NOT NULL
        CHECK (status IN ('HELD', 'CONFIRMED', 'CANCELLED', 'NO_SHOW', 'EXPIRED')),
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL,
    blocked             tstzrange   NOT NULL,                 -- [starts_at − buffer before, ends_at + buffer after)
    hold_expires_at     timestamptz,
    idempotency_key     text,                                 -- the client key that created it (scope: patient_id)
    note                text,
    cancelled_at        timestamptz,
    cancelled_by        text CHECK (cancelled_by IN ('PATIENT', 'PRACTITIONER')),
    cancellation_reason text,
    version             bigint      NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (country, id),
    CONSTRAINT appointments_times CHECK (starts_at < ends_at AND lower(blocked) <= starts_at AND upper(blocked) >= ends_at),
    CONSTRAINT appointments_person CHECK (person_id = coalesce(relative_id, patient_id)),
    CONSTRAINT appointments_hold CHECK (status NOT IN ('HELD', 'EXPIRED') OR hold_expires_at IS NOT NULL)
) PARTITION BY LIST (country);
CREATE INDEX appointments_id ON appointments (id);
CREATE INDEX appointments_patient ON appointments (patient_id, starts_at);
CREATE INDEX appointments_practitioner ON appointments (practitioner_id, starts_at);
CREATE INDEX appointments_person ON appointments (person_id, practitioner_id) WHERE status IN ('CONFIRMED', 'NO_SHOW');
CREATE INDEX appointments_live_holds ON appointments (hold_expires_at) WHERE status = 'HELD';

-- Client keys of bookings and moves, written in the same transaction as the
-- change: a retry with the same key and the same request gets the stored
-- answer; the same key with another request is refused.
CREATE TABLE idempotency_keys (
    subject        text        NOT NULL,  -- the caller (token subject)
    key            text        NOT NULL,
    operation      text        NOT NULL,  -- book, reschedule
    request_hash   bytea       NOT NULL,  -- sha-256 of the canonical request
    appointment_id uuid        NOT NULL,
    response       jsonb,                 -- the first answer (set before commit)
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- Local replica of each practitioner's schedule, from practitioner-events:
-- the whole snapshot at its version (a newer version replaces it).
CREATE TABLE practitioner_schedules (
    practitioner_id uuid        PRIMARY KEY,
    country         text        NOT NULL,
    version         bigint      NOT NULL,
    snapshot        jsonb       NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Local replica of patients, from patient-events: names for the agenda and
-- relatives to check bookings for. An erased patient is anonymised and stays so.
CREATE TABLE patients (
    id         uuid        PRIMARY KEY,
    version    bigint      NOT NULL,
    first_name text        NOT NULL,
    last_name  text        NOT NULL,
    phone      text,
    relatives  jsonb       NOT NULL DEFAULT '[]',
    erased_at  timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE patients;
DROP TABLE practitioner_schedules;
DROP TABLE idempotency_keys;
DROP TABLE appointments;
