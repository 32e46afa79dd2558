-- +goose Up
-- Patient store: accounts, relatives and who their guardians are. Emails are
-- stored lower case, so the unique constraint is case-insensitive.
CREATE TABLE patients (
    id           uuid        PRIMARY KEY,
    email        text        NOT NULL CHECK (email = lower(email)),
    first_name   text        NOT NULL,
    last_name    text        NOT NULL,
    phone        text,
    birth_date   date        NOT NULL,
    locale       text        NOT NULL,
    country      text        NOT NULL,
    notify_email boolean     NOT NULL DEFAULT true,
    notify_sms   boolean     NOT NULL DEFAULT false,
    version      bigint      NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT patients_email_key UNIQUE (email),
    CONSTRAINT patients_sms_needs_phone CHECK (NOT notify_sms OR phone IS NOT NULL)
);

-- A relative (e.g. a child) a patient books for.
CREATE TABLE relatives (
    id         uuid        PRIMARY KEY,
    first_name text        NOT NULL,
    last_name  text        NOT NULL,
    birth_date date        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A relative's guardians: the account that added it (rank 1) and, linked
-- later, at most one other (rank 2). The rank makes "at most two" a constraint.
CREATE TABLE relative_guardians (
    relative_id uuid        NOT NULL REFERENCES relatives (id) ON DELETE CASCADE,
    patient_id  uuid        NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    rank        smallint    NOT NULL CHECK (rank IN (1, 2)),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (relative_id, patient_id),
    UNIQUE (relative_id, rank)
);
CREATE INDEX relative_guardians_patient ON relative_guardians (patient_id);

-- +goose Down
DROP TABLE relative_guardians;
DROP TABLE relatives;
DROP TABLE patients;
