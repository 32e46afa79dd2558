-- +goose Up
-- Events written in the same transaction as the change they describe; the
-- relay (internal/outbox) publishes them in seq order and deletes each row
-- once the broker has acknowledged it.
CREATE TABLE outbox (
    seq        bigserial   PRIMARY KEY,
    id         uuid        NOT NULL UNIQUE,     -- the CloudEvents id
    topic      text        NOT NULL,            -- unprefixed topic name
    key        text        NOT NULL,            -- Kafka record key
    type       text        NOT NULL DEFAULT '', -- the CloudEvents type, for the ce_type header
    payload    bytea       NOT NULL,            -- the CloudEvents JSON envelope, byte for byte
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Events an idempotent PostgreSQL-backed consumer has already applied; the
-- claim is inserted in the same transaction as the consumer's change.
CREATE TABLE processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE INDEX processed_events_processed_at ON processed_events (processed_at);

-- +goose Down
DROP TABLE processed_events;
DROP TABLE outbox;
