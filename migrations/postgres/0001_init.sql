-- parkd PostgreSQL schema, version 1 (SQLite's 0001_init; versions are kept
-- aligned between the backends, so `/ready` reports the same numbers).
--
-- Conventions: ids are `uuid`; instants `timestamptz` (microseconds, UTC);
-- money `bigint` minor units beside a `text` ISO-4217 currency; settings that
-- are only ever read whole (opening hours, amenities, rate cards) are `jsonb`;
-- stored answers (quotes, idempotent responses, event payloads) are `text`, so
-- that they come back byte for byte as written.
--
-- Applied by parkd/src/store/postgres/migrate.rs in one transaction, under an
-- advisory lock so that several instances starting at once apply it once.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE tenants (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);

CREATE TABLE users (
    id             uuid        PRIMARY KEY,
    email          text        NOT NULL,
    password_hash  text        NOT NULL,
    first_name     text        NOT NULL,
    last_name      text        NOT NULL,
    -- base64(nonce || AES-GCM ciphertext || tag); never the plain number.
    phone_enc      text,
    -- Role names, e.g. '{driver}' or '{operator,admin}'.
    roles          text[]      NOT NULL DEFAULT '{driver}',
    tenant_id      uuid        REFERENCES tenants (id),
    created_at     timestamptz NOT NULL
);

-- Emails are unique ignoring case (SQLite: COLLATE NOCASE).
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
CREATE INDEX users_tenant ON users (tenant_id);
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE refresh_tokens (
    token_hash  text        PRIMARY KEY,
    family_id   uuid        NOT NULL,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    spent_at    timestamptz,
    revoked_at  timestamptz
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE revoked_access (
    jti         uuid        PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);

CREATE INDEX revoked_access_expires ON revoked_access (expires_at);

CREATE TABLE lots (
    id                       uuid             PRIMARY KEY,
    tenant_id                uuid             NOT NULL REFERENCES tenants (id),
    name                     text             NOT NULL,
    address                  text             NOT NULL,
    lat                      double precision NOT NULL,
    lng                      double precision NOT NULL,
    timezone                 text             NOT NULL,
    hours                    jsonb,
    amenities                jsonb            NOT NULL DEFAULT '[]',
    turnover_buffer_minutes  integer          NOT NULL DEFAULT 0 CHECK (turnover_buffer_minutes >= 0),
    min_lead_minutes         integer          NOT NULL DEFAULT 0 CHECK (min_lead_minutes >= 0),
    max_duration_minutes     integer          CHECK (max_duration_minutes > 0),
    hold_minutes             integer          NOT NULL DEFAULT 10 CHECK (hold_minutes > 0),
    no_show_grace_minutes    integer          NOT NULL DEFAULT 15 CHECK (no_show_grace_minutes >= 0),
    cancellation             jsonb            NOT NULL DEFAULT '{}',
    external_id              text             UNIQUE,
    created_at               timestamptz      NOT NULL,
    updated_at               timestamptz      NOT NULL
);

CREATE INDEX lots_tenant ON lots (tenant_id);
CREATE INDEX lots_created ON lots (created_at, id);

CREATE TABLE spots (
    id          uuid    PRIMARY KEY,
    lot_id      uuid    NOT NULL REFERENCES lots (id) ON DELETE CASCADE,
    label       text    NOT NULL,
    kind        text    NOT NULL
                CHECK (kind IN ('regular', 'compact', 'accessible', 'ev', 'motorcycle')),
    zone        text,
    in_service  boolean NOT NULL DEFAULT true,
    -- Insertion order (SQLite's rowid): spots are listed as they were added.
    position    bigint  GENERATED ALWAYS AS IDENTITY,
    UNIQUE (lot_id, label)
);

CREATE INDEX spots_position ON spots (position);

CREATE TABLE rate_cards (
    lot_id      uuid        PRIMARY KEY REFERENCES lots (id) ON DELETE CASCADE,
    card        jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Reservations, partitioned by lot (hash). Never by month: an exclusion
-- constraint only sees the rows of its own partition, and all the bookings of
-- a spot must meet in one partition for the no-overlap rule to hold; a spot
-- belongs to one lot, so hashing the lot keeps them together.
--
-- `blocks_until` is the end widened by the lot's turnover buffer (fixed when
-- the row is written: `timestamptz + interval` is not immutable, so it cannot
-- be an expression of the constraint). Two bookings on a spot conflict when
-- [start, end + buffer) ranges overlap, which is SQLite's rule (each widened
-- by the buffer on the side facing the other).
--
-- `blocking` is true for confirmed and checked-in bookings and for holds that
-- had not expired when the row was written; a lapsed hold is switched off by
-- the next write on its spot (see reservations.rs), as SQLite's trigger ignores
-- lapsed holds. A constraint predicate must be immutable, so it cannot read
-- the clock itself.
--
-- Only the spot is a foreign key. A foreign key check locks the referenced row
-- (FOR KEY SHARE), and every booking of a lot, or of one busy account, would
-- lock the same lot or user row: concurrent lockers of one row make
-- PostgreSQL build a multixact each time, which caps bookings per lot. The
-- spot's row is shared only by that spot's bookings; the lot is checked when
-- the row is written (the insert reads the lot through the spot, see
-- reservations.rs), and users are never deleted.
CREATE TABLE reservations (
    id               uuid        NOT NULL,
    lot_id           uuid        NOT NULL,
    spot_id          uuid        NOT NULL REFERENCES spots (id),
    user_id          uuid        NOT NULL,
    start_time       timestamptz NOT NULL,
    end_time         timestamptz NOT NULL,
    blocks_until     timestamptz NOT NULL,
    status           text        NOT NULL
                     CHECK (status IN ('held', 'confirmed', 'checked_in', 'completed',
                                       'cancelled', 'no_show', 'expired')),
    blocking         boolean     NOT NULL,
    hold_expires_at  timestamptz,
    total_amount     bigint      NOT NULL,
    currency         text        NOT NULL,
    quote_json       text        NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (lot_id, id),
    CHECK (end_time > start_time),
    CHECK (blocks_until >= end_time),
    CHECK (NOT blocking OR status IN ('held', 'confirmed', 'checked_in'))
) PARTITION BY HASH (lot_id);

-- Lookups by id alone (show, update).
CREATE INDEX reservations_id ON reservations (id);
-- A driver's list, newest first.
CREATE INDEX reservations_user_created ON reservations (user_id, created_at DESC);
-- A lot's window (analytics, operator lists) and a lot's newest first.
CREATE INDEX reservations_lot_start ON reservations (lot_id, start_time);
CREATE INDEX reservations_lot_created ON reservations (lot_id, created_at DESC);
-- The snapshot's blocking rows.
CREATE INDEX reservations_blocking ON reservations (lot_id) WHERE blocking;
-- A spot's live holds, switched off by the next write once they lapse.
CREATE INDEX reservations_live_holds ON reservations (spot_id) WHERE blocking AND status = 'held';
-- The sweeps.
CREATE INDEX reservations_due_holds ON reservations (hold_expires_at) WHERE status = 'held';
CREATE INDEX reservations_no_show ON reservations (start_time) WHERE status = 'confirmed';

-- Sixteen partitions, each with its own no-overlap constraint: PostgreSQL 15
-- refuses an exclusion constraint on a partitioned parent. The constraint's
-- name ends in `_no_overlap`; the store maps its violation (SQLSTATE 23P01)
-- to a conflict.
DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format(
            'CREATE TABLE reservations_p%s PARTITION OF reservations
                 FOR VALUES WITH (MODULUS 16, REMAINDER %s)', i, i);
        EXECUTE format(
            'ALTER TABLE reservations_p%s ADD CONSTRAINT reservations_p%s_no_overlap
                 EXCLUDE USING gist (spot_id WITH =, tstzrange(start_time, blocks_until) WITH &&)
                 WHERE (blocking)', i, i);
    END LOOP;
END
$$;

CREATE TABLE idempotency_keys (
    user_id        uuid        NOT NULL,
    key            text        NOT NULL,
    request_hash   text        NOT NULL,
    status_code    integer     NOT NULL,
    response_json  text        NOT NULL,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The outbox. Writers only insert (`id` orders inserts); `seq` and `lot_seq`
-- are assigned after commit by the sequencer (events.rs), one instance at a
-- time, so that `seq` follows commit order and a reader that has seen `seq = n`
-- never later meets a smaller one. Until then both are NULL and the row is not
-- visible to readers.
CREATE TABLE events (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq           bigint      UNIQUE,
    lot_id        uuid,
    lot_seq       bigint,
    type          text        NOT NULL,
    payload_json  text        NOT NULL,
    occurred_at   timestamptz NOT NULL,
    -- The parkd instance that wrote it: each instance applies the others'
    -- events to its memory, not its own (it made those changes itself).
    origin        uuid,
    UNIQUE (lot_id, lot_seq)
);

CREATE INDEX events_unsequenced ON events (id) WHERE seq IS NULL;
