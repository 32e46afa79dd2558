-- +goose Up
-- The W3C traceparent of the request that wrote the event ('' when it was not traced): the relay
-- sends it as the record's traceparent header, so a consumer's span joins the writer's trace.
ALTER TABLE outbox ADD COLUMN traceparent text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox DROP COLUMN traceparent;
