-- +goose Up
-- careslot:expand-only
-- A practice's own policy against repeat no-shows (ADR 21): after
-- no_show_limit no-shows with it in no_show_period_days, a patient account
-- may not book it online for no_show_restriction_days (limit 0: never).
-- All three NULL: the country's default from the catalogue applies. Carried
-- in the practice's snapshot events, so booking decides with its replica.
ALTER TABLE practitioners
    ADD COLUMN no_show_limit            integer CHECK (no_show_limit BETWEEN 0 AND 20),
    ADD COLUMN no_show_period_days      integer CHECK (no_show_period_days BETWEEN 1 AND 730),
    ADD COLUMN no_show_restriction_days integer CHECK (no_show_restriction_days BETWEEN 1 AND 365),
    ADD CONSTRAINT practitioners_no_show_policy CHECK (
        (no_show_limit IS NULL) = (no_show_period_days IS NULL)
        AND (no_show_limit IS NULL) = (no_show_restriction_days IS NULL));

-- +goose Down
ALTER TABLE practitioners DROP CONSTRAINT practitioners_no_show_policy,
    DROP COLUMN no_show_restriction_days, DROP COLUMN no_show_period_days, DROP COLUMN no_show_limit;
