-- +goose Up
-- Earlier-slot offers (ADR 21): a waiting patient is told that a slot is
-- held for them until a deadline (booking's SlotOffered). The message is
-- about the offer, whose id is its hold's.
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('CONFIRMATION', 'RESCHEDULED', 'CANCELLED', 'REMINDER', 'SLOT_OFFERED'));

-- +goose Down
DELETE FROM messages WHERE kind = 'SLOT_OFFERED';
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('CONFIRMATION', 'RESCHEDULED', 'CANCELLED', 'REMINDER'));
