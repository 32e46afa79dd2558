-- +goose Up
-- Notification store: replicas of what messages need (patients' contact
-- details, locale and preferences; practitioners' display names, locations
-- and zones), the appointments as booking last announced them, and every
-- message sent or due.

-- Patients, from patient-events (a newer version replaces the row). An erased
-- patient keeps only a tombstone (id, erased_at), so that no late event brings
-- their data back.
CREATE TABLE patients (
    id           uuid        PRIMARY KEY,
    version      bigint      NOT NULL,
    email        text,
    phone        text,
    first_name   text,
    last_name    text,
    locale       text,
    country      text,
    notify_email boolean     NOT NULL DEFAULT false,
    notify_sms   boolean     NOT NULL DEFAULT false,
    relatives    jsonb       NOT NULL DEFAULT '[]',  -- [{id, firstName, lastName}]
    erased_at    timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Practitioners, from practitioner-events: what a message names and where.
CREATE TABLE practitioners (
    id                uuid        PRIMARY KEY,
    version           bigint      NOT NULL,
    country           text        NOT NULL,
    display_name      text        NOT NULL,
    locations         jsonb       NOT NULL DEFAULT '[]',  -- [{id, name, line1, postalCode, city, timeZone}]
    appointment_types jsonb       NOT NULL DEFAULT '[]',  -- [{id, name}]
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Appointments as booking-events last described them (a newer version
-- replaces the row): reminders check the appointment is still on, and when.
CREATE TABLE appointments (
    id              uuid        PRIMARY KEY,
    version         bigint      NOT NULL,
    patient_id      uuid        NOT NULL,
    practitioner_id uuid        NOT NULL,
    country         text        NOT NULL,
    status          text        NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointments_patient ON appointments (patient_id);

-- Messages: one per appointment, kind, channel and dedupe key, which the
-- unique constraint makes "at most once" whatever the event replays:
--   CONFIRMATION, CANCELLED: key '' (once per appointment);
--   RESCHEDULED: key 'v<version>' (once per move);
--   REMINDER: key '<offset minutes>@<start, RFC 3339 UTC>' (once per offset and start).
-- facts is the appointment (eventdata.Appointment) the message is about.
CREATE TABLE messages (
    id              uuid        PRIMARY KEY,
    patient_id      uuid        NOT NULL,
    appointment_id  uuid        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('CONFIRMATION', 'RESCHEDULED', 'CANCELLED', 'REMINDER')),
    channel         text        NOT NULL CHECK (channel IN ('EMAIL', 'SMS')),
    dedupe_key      text        NOT NULL DEFAULT '',
    status          text        NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'SKIPPED')),
    facts           jsonb       NOT NULL,
    due_at          timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,  -- due_at, then the retry time (or the lease of a send in flight)
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    recipient       text,
    subject         text,
    body            text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT messages_once UNIQUE (appointment_id, kind, channel, dedupe_key)
);
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX messages_patient ON messages (patient_id, due_at DESC, id DESC);

-- +goose Down
DROP TABLE messages;
DROP TABLE appointments;
DROP TABLE practitioners;
DROP TABLE patients;
