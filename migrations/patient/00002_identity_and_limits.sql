-- +goose Up
-- An account is bound to the OIDC identity that registered it: its id is
-- AccountID(issuer, subject) (internal/auth), and the pair is recorded, once.
ALTER TABLE patients ADD COLUMN issuer text, ADD COLUMN subject text,
    ADD CONSTRAINT patients_identity UNIQUE (issuer, subject);

-- An erased account's id and last version, nothing else: the same identity
-- registering again gets the same id at a higher version, so that every
-- replica (whose tombstone has the erasure's version) takes the new account
-- and no late event of the old one.
CREATE TABLE erased_accounts (
    id        uuid        PRIMARY KEY,
    version   bigint      NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT now()
);

-- Accounts registered from one client address in one clock hour, against the
-- country's limit: upserted in the registration's transaction (ON CONFLICT
-- DO UPDATE takes the row lock and sees the latest count), and the CHECK
-- refuses the one past the limit, which aborts the registration whole.
CREATE TABLE registration_counts (
    address        text        NOT NULL,  -- the client address (IPv6: its /64)
    hour           timestamptz NOT NULL,
    registered     integer     NOT NULL,
    max_registered integer     NOT NULL,
    PRIMARY KEY (address, hour),
    CONSTRAINT registration_counts_limit CHECK (registered <= max_registered)
);
CREATE INDEX registration_counts_hour ON registration_counts (hour);

-- +goose Down
DROP TABLE registration_counts;
DROP TABLE erased_accounts;
ALTER TABLE patients DROP CONSTRAINT patients_identity, DROP COLUMN subject, DROP COLUMN issuer;
