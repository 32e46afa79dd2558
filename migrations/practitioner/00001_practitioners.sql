-- +goose Up
-- Practitioner store, partitioned by country: each country's rows live in
-- their own partition (created from the country catalogue at start-up), so a
-- country can be moved, vacuumed or dropped on its own.
CREATE TABLE practitioners (
    country              text        NOT NULL,
    id                   uuid        NOT NULL,
    external_id          text,
    first_name           text        NOT NULL,
    last_name            text        NOT NULL,
    bio                  text,
    languages            text[]      NOT NULL DEFAULT '{}',
    specialties          text[]      NOT NULL DEFAULT '{}',
    registration_number  text,
    accepts_new_patients boolean     NOT NULL DEFAULT true,
    rating               real,
    version              bigint      NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (country, id),
    UNIQUE (country, external_id)
) PARTITION BY LIST (country);
CREATE INDEX practitioners_id ON practitioners (id);

CREATE TABLE locations (
    country         text             NOT NULL,
    id              uuid             NOT NULL,
    practitioner_id uuid             NOT NULL,
    name            text             NOT NULL,
    line1           text             NOT NULL,
    postal_code     text             NOT NULL,
    city            text             NOT NULL,
    address_country text             NOT NULL,
    lat             double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon             double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    time_zone       text             NOT NULL,
    created_at      timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (country, id),
    FOREIGN KEY (country, practitioner_id) REFERENCES practitioners (country, id) ON DELETE CASCADE
) PARTITION BY LIST (country);
CREATE INDEX locations_id ON locations (id);
CREATE INDEX locations_practitioner ON locations (practitioner_id);

CREATE TABLE appointment_types (
    country               text    NOT NULL,
    id                    uuid    NOT NULL,
    practitioner_id       uuid    NOT NULL,
    name                  text    NOT NULL,
    duration_minutes      integer NOT NULL CHECK (duration_minutes > 0),
    visit_mode            text    NOT NULL CHECK (visit_mode IN ('IN_PERSON', 'VIDEO')),
    new_patients_allowed  boolean NOT NULL,
    online_bookable       boolean NOT NULL,
    buffer_before_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes >= 0),
    buffer_after_minutes  integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes >= 0),
    min_notice_minutes    integer NOT NULL DEFAULT 0 CHECK (min_notice_minutes >= 0),
    booking_horizon_days  integer NOT NULL DEFAULT 90 CHECK (booking_horizon_days > 0),
    position              integer NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (country, id),
    FOREIGN KEY (country, practitioner_id) REFERENCES practitioners (country, id) ON DELETE CASCADE
) PARTITION BY LIST (country);
CREATE INDEX appointment_types_id ON appointment_types (id);
CREATE INDEX appointment_types_practitioner ON appointment_types (practitioner_id);

-- +goose Down
DROP TABLE appointment_types;
DROP TABLE locations;
DROP TABLE practitioners;
