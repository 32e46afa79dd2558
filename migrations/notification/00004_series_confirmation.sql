-- +goose Up
-- careslot:expand-only
-- A treatment series (ADR 21) is confirmed in one message listing every
-- session (kind SERIES_CONFIRMATION, keyed to its first session with the
-- dedupe key 'series:<series id>'); its facts are the series
-- (eventdata.Series). The constraint lists every kind, SLOT_OFFERED
-- (migration 3) included.
ALTER TABLE messages DROP CONSTRAINT messages_kind_check,
    ADD CONSTRAINT messages_kind_check CHECK (kind IN ('CONFIRMATION', 'RESCHEDULED', 'CANCELLED', 'REMINDER', 'SLOT_OFFERED', 'SERIES_CONFIRMATION'));

-- +goose Down
DELETE FROM messages WHERE kind = 'SERIES_CONFIRMATION';
ALTER TABLE messages DROP CONSTRAINT messages_kind_check,
    ADD CONSTRAINT messages_kind_check CHECK (kind IN ('CONFIRMATION', 'RESCHEDULED', 'CANCELLED', 'REMINDER', 'SLOT_OFFERED'));
