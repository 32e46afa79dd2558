-- +goose Up
-- careslot:expand-only
-- Desk patients (ADR 21) in the patient replica: a practice's record of a
-- caller without an account, from DeskPatientRecorded, beside the accounts.
-- practitioner_id is the practice holding it (NULL for an account): only
-- that practice books for it. claimed_by is the account that claimed it:
-- its appointments were moved to that account, and new desk bookings for it
-- go to the account too.
ALTER TABLE patients ADD COLUMN practitioner_id uuid, ADD COLUMN claimed_by uuid;

-- +goose Down
ALTER TABLE patients DROP COLUMN claimed_by, DROP COLUMN practitioner_id;
