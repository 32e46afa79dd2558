-- +goose Up
-- careslot:expand-only
-- An opening-hours rule belongs to a location of its own practitioner. One
-- composite key states exactly that and is checked once per rule; the two
-- keys it replaces (rule → practitioner, rule → location) were checked twice
-- per rule and were most of the import's server time (ADR 31). Deleting a
-- practitioner still removes its rules: practitioner → locations → rules
-- cascade. Builds of the previous schema write only rules of their own
-- locations, so they keep serving on this one.
ALTER TABLE locations
    ADD CONSTRAINT locations_country_id_practitioner_key UNIQUE (country, id, practitioner_id);
ALTER TABLE opening_hours
    DROP CONSTRAINT opening_hours_country_practitioner_id_fkey,
    DROP CONSTRAINT opening_hours_country_location_id_fkey,
    ADD CONSTRAINT opening_hours_location_of_practitioner_fkey
        FOREIGN KEY (country, location_id, practitioner_id)
        REFERENCES locations (country, id, practitioner_id) ON DELETE CASCADE;

-- +goose Down
ALTER TABLE opening_hours
    DROP CONSTRAINT opening_hours_location_of_practitioner_fkey,
    ADD CONSTRAINT opening_hours_country_practitioner_id_fkey
        FOREIGN KEY (country, practitioner_id) REFERENCES practitioners (country, id) ON DELETE CASCADE,
    ADD CONSTRAINT opening_hours_country_location_id_fkey
        FOREIGN KEY (country, location_id) REFERENCES locations (country, id) ON DELETE CASCADE;
ALTER TABLE locations DROP CONSTRAINT locations_country_id_practitioner_key;
