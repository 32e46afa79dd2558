-- +goose Up
-- Bookings one account made with one practice on one local day of the
-- country, against the country's limit (internal/countries). The booking
-- statement upserts its row in the same statement as the appointment: ON
-- CONFLICT DO UPDATE takes the row lock and sees the latest count, so racing
-- bookings are counted one after the other, and the one past the limit fails
-- the CHECK, which aborts it whole (nothing booked, nothing emitted). Rows of
-- past days are pruned by the sweeper.
CREATE TABLE booking_counts (
    patient_id      uuid    NOT NULL,
    practitioner_id uuid    NOT NULL,
    day             date    NOT NULL,
    booked          integer NOT NULL,
    max_booked      integer NOT NULL,  -- the country's limit when the latest booking was counted
    PRIMARY KEY (patient_id, practitioner_id, day),
    CONSTRAINT booking_counts_limit CHECK (booked <= max_booked)
);
CREATE INDEX booking_counts_day ON booking_counts (day);

-- +goose Down
DROP TABLE booking_counts;
