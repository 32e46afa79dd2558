-- +goose Up
-- Weekly opening hours and absences, partitioned by country like the rest of
-- the practitioner store (partitions are created from the country catalogue at
-- start-up).

-- An opening-hours rule: wall-clock minutes of a local day, in the zone of its
-- location ("Mondays 09:00-12:00, Europe/Paris"). end_minute may be 1440
-- (24:00, the end of the day).
CREATE TABLE opening_hours (
    country              text        NOT NULL,
    id                   uuid        NOT NULL,
    practitioner_id      uuid        NOT NULL,
    location_id          uuid        NOT NULL,
    weekday              smallint    NOT NULL CHECK (weekday BETWEEN 1 AND 7), -- ISO 8601: 1 = Monday
    start_minute         smallint    NOT NULL CHECK (start_minute >= 0 AND start_minute < 1440),
    end_minute           smallint    NOT NULL CHECK (end_minute <= 1440),
    step_minutes         smallint    NOT NULL CHECK (step_minutes BETWEEN 5 AND 240 AND step_minutes % 5 = 0),
    appointment_type_ids uuid[]      NOT NULL CHECK (cardinality(appointment_type_ids) > 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (country, id),
    CHECK (end_minute > start_minute),
    FOREIGN KEY (country, practitioner_id) REFERENCES practitioners (country, id) ON DELETE CASCADE,
    FOREIGN KEY (country, location_id) REFERENCES locations (country, id) ON DELETE CASCADE
) PARTITION BY LIST (country);
CREATE INDEX opening_hours_practitioner ON opening_hours (practitioner_id);
CREATE INDEX opening_hours_location ON opening_hours (location_id);

-- A span when the practitioner takes no appointments.
CREATE TABLE absences (
    country         text        NOT NULL,
    id              uuid        NOT NULL,
    practitioner_id uuid        NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (country, id),
    CHECK (ends_at > starts_at),
    FOREIGN KEY (country, practitioner_id) REFERENCES practitioners (country, id) ON DELETE CASCADE
) PARTITION BY LIST (country);
CREATE INDEX absences_id ON absences (id);
CREATE INDEX absences_practitioner ON absences (practitioner_id, ends_at);

-- +goose Down
DROP TABLE absences;
DROP TABLE opening_hours;
