-- +goose Up
-- Earlier-slot offers (ADR 21). A patient waits for an earlier slot with a
-- practitioner (waitlist_entries); when a matching slot frees, it is held in
-- the first waiting patient's name: the offer is a hold row of appointments
-- (HELD, hold_expires_at = the offer's deadline), so the exclusion
-- constraint keeps it one offer per slot, and waitlist_offers marks it as an
-- offer and records what became of it.

-- Entries, in fair order (seq: first come, first offered). Times are the
-- practice's local wall clock: the appointment must lie in
-- [earliest_minute, latest_minute) of a local day on one of weekdays (ISO
-- 1–7; empty: any), on or before latest_date, and, with a current
-- appointment, start before it (accepting moves that appointment).
CREATE TABLE waitlist_entries (
    id                     uuid        PRIMARY KEY,
    seq                    bigint      GENERATED ALWAYS AS IDENTITY,
    country                text        NOT NULL,
    practitioner_id        uuid        NOT NULL,
    appointment_type_id    uuid        NOT NULL,
    patient_id             uuid        NOT NULL,                 -- the account waiting
    relative_id            uuid,                                 -- the relative it is for, if any
    person_id              uuid        NOT NULL,                 -- who attends: relative_id or patient_id
    current_appointment_id uuid,                                 -- the appointment an accepted offer moves
    latest_date            date        NOT NULL,
    earliest_minute        smallint    NOT NULL DEFAULT 0,
    latest_minute          smallint    NOT NULL DEFAULT 1440,
    weekdays               smallint[]  NOT NULL DEFAULT '{}',
    status                 text        NOT NULL DEFAULT 'WAITING' CHECK (status IN ('WAITING', 'FULFILLED', 'LEFT')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT waitlist_entries_window CHECK (0 <= earliest_minute AND earliest_minute < latest_minute AND latest_minute <= 1440),
    CONSTRAINT waitlist_entries_person CHECK (person_id = coalesce(relative_id, patient_id))
);
-- One live entry per person, practitioner and type.
CREATE UNIQUE INDEX waitlist_entries_one_live ON waitlist_entries (person_id, practitioner_id, appointment_type_id)
    WHERE status = 'WAITING';
CREATE INDEX waitlist_entries_waiting ON waitlist_entries (practitioner_id, seq) WHERE status = 'WAITING';
CREATE INDEX waitlist_entries_patient ON waitlist_entries (patient_id);

-- Offers: id is the hold's id in appointments. status records the decision
-- (OFFERED until accepted, declined, withdrawn or expired); an OFFERED row
-- whose hold is no longer live is expired. An entry is offered a start once.
CREATE TABLE waitlist_offers (
    id         uuid        PRIMARY KEY,
    entry_id   uuid        NOT NULL REFERENCES waitlist_entries (id) ON DELETE CASCADE,
    starts_at  timestamptz NOT NULL,
    status     text        NOT NULL DEFAULT 'OFFERED'
        CHECK (status IN ('OFFERED', 'ACCEPTED', 'DECLINED', 'EXPIRED', 'WITHDRAWN')),
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    CONSTRAINT waitlist_offers_once UNIQUE (entry_id, starts_at)
);
CREATE INDEX waitlist_offers_live ON waitlist_offers (entry_id) WHERE status = 'OFFERED';

-- +goose Down
DROP TABLE waitlist_offers;
DROP TABLE waitlist_entries;
