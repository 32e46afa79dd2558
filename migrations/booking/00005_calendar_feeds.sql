-- +goose Up
-- Each practitioner's private calendar feed (GET /calendar/<token>.ics): the
-- SHA-256 of its random 256-bit token, never the token itself, so a copy of
-- the database gives no feed away. One feed per practitioner: creating another
-- replaces the row (the old address stops working), revoking deletes it.
CREATE TABLE calendar_feeds (
    practitioner_id uuid        PRIMARY KEY,
    token_sha256    bytea       NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    created_by      text        NOT NULL,  -- the account that created it (the practitioner or a secretary)
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE calendar_feeds;
