-- +goose Up
-- What a practice is told: a patient cancelled one of its appointments, or
-- erased their account (which cancels their future appointments, reason
-- PATIENT_ERASED). The practice reads them in its portal
-- (Practitioner.practiceNotifications). No patient data: the appointment,
-- its times and the reason. Once per appointment and kind, whatever replays.
CREATE TABLE practice_messages (
    id              uuid        PRIMARY KEY,
    practitioner_id uuid        NOT NULL,
    appointment_id  uuid        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('CANCELLED_BY_PATIENT')),
    reason          text,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT practice_messages_once UNIQUE (appointment_id, kind)
);
CREATE INDEX practice_messages_practitioner ON practice_messages (practitioner_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE practice_messages;
