-- parkd SQLite schema, version 1.
--
-- Conventions: instants are INTEGER microseconds since the Unix epoch (columns
-- end in `_us`); money is INTEGER minor units beside a TEXT ISO-4217 currency;
-- UUIDs are TEXT (hyphenated, lower case); JSON documents are TEXT. Tables are
-- STRICT so that a wrongly typed bind fails loudly instead of being stored.
--
-- Applied by parkd/src/store/sqlite/migrate.rs inside one transaction; the
-- migrator, not this file, sets PRAGMA user_version.

CREATE TABLE tenants (
    id          TEXT    PRIMARY KEY NOT NULL,
    name        TEXT    NOT NULL UNIQUE,
    created_us  INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id             TEXT    PRIMARY KEY NOT NULL,
    email          TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash  TEXT    NOT NULL,
    first_name     TEXT    NOT NULL,
    last_name      TEXT    NOT NULL,
    -- base64(nonce || AES-GCM ciphertext || tag); never the plain number.
    phone_enc      TEXT,
    -- JSON array of role names, e.g. '["driver"]' or '["operator","admin"]'.
    roles          TEXT    NOT NULL DEFAULT '["driver"]',
    tenant_id      TEXT    REFERENCES tenants (id),
    created_us     INTEGER NOT NULL
) STRICT;

CREATE INDEX users_tenant ON users (tenant_id);

CREATE TABLE refresh_tokens (
    -- Hash of the opaque token; the token itself is never stored.
    token_hash  TEXT    PRIMARY KEY NOT NULL,
    family_id   TEXT    NOT NULL,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_us   INTEGER NOT NULL,
    expires_us  INTEGER NOT NULL,
    spent_us    INTEGER,
    revoked_us  INTEGER
) STRICT;

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Access-token ids refused until they expire (logout).
CREATE TABLE revoked_access (
    jti         TEXT    PRIMARY KEY NOT NULL,
    expires_us  INTEGER NOT NULL
) STRICT;

CREATE TABLE lots (
    id                       TEXT    PRIMARY KEY NOT NULL,
    tenant_id                TEXT    NOT NULL REFERENCES tenants (id),
    name                     TEXT    NOT NULL,
    address                  TEXT    NOT NULL,
    lat                      REAL    NOT NULL,
    lng                      REAL    NOT NULL,
    -- IANA time zone name, e.g. 'Europe/London'.
    timezone                 TEXT    NOT NULL,
    -- Weekly opening hours; NULL means open around the clock.
    hours_json               TEXT,
    amenities_json           TEXT    NOT NULL DEFAULT '[]',
    turnover_buffer_minutes  INTEGER NOT NULL DEFAULT 0 CHECK (turnover_buffer_minutes >= 0),
    min_lead_minutes         INTEGER NOT NULL DEFAULT 0 CHECK (min_lead_minutes >= 0),
    max_duration_minutes     INTEGER CHECK (max_duration_minutes > 0),
    hold_minutes             INTEGER NOT NULL DEFAULT 10 CHECK (hold_minutes > 0),
    no_show_grace_minutes    INTEGER NOT NULL DEFAULT 15 CHECK (no_show_grace_minutes >= 0),
    cancellation_json        TEXT NOT NULL DEFAULT '{}',
    -- Identifier in an imported data set (e.g. the source's car-park code).
    external_id              TEXT    UNIQUE,
    created_us               INTEGER NOT NULL,
    updated_us               INTEGER NOT NULL
) STRICT;

CREATE INDEX lots_tenant ON lots (tenant_id);

CREATE TABLE spots (
    id          TEXT    PRIMARY KEY NOT NULL,
    lot_id      TEXT    NOT NULL REFERENCES lots (id) ON DELETE CASCADE,
    label       TEXT    NOT NULL,
    kind        TEXT    NOT NULL
                CHECK (kind IN ('regular', 'compact', 'accessible', 'ev', 'motorcycle')),
    zone        TEXT,
    in_service  INTEGER NOT NULL DEFAULT 1 CHECK (in_service IN (0, 1)),
    UNIQUE (lot_id, label)
) STRICT;

CREATE TABLE rate_cards (
    lot_id      TEXT    PRIMARY KEY NOT NULL REFERENCES lots (id) ON DELETE CASCADE,
    card_json   TEXT    NOT NULL,
    updated_us  INTEGER NOT NULL
) STRICT;

-- Reservations keep their lot and spot: deleting a lot or spot that still has
-- reservations fails with a foreign-key error (the API answers 409 first).
CREATE TABLE reservations (
    id               TEXT    PRIMARY KEY NOT NULL,
    lot_id           TEXT    NOT NULL REFERENCES lots (id),
    spot_id          TEXT    NOT NULL REFERENCES spots (id),
    user_id          TEXT    NOT NULL REFERENCES users (id),
    start_us         INTEGER NOT NULL,
    end_us           INTEGER NOT NULL,
    status           TEXT    NOT NULL
                     CHECK (status IN ('held', 'confirmed', 'checked_in', 'completed',
                                       'cancelled', 'no_show', 'expired')),
    -- Set while status = 'held'; a hold past this instant no longer blocks.
    hold_expires_us  INTEGER,
    total_amount     INTEGER NOT NULL,
    currency         TEXT    NOT NULL,
    quote_json       TEXT    NOT NULL,
    created_us       INTEGER NOT NULL,
    updated_us       INTEGER NOT NULL,
    CHECK (end_us > start_us)
) STRICT;

CREATE INDEX reservations_spot_start ON reservations (spot_id, start_us);
-- Serves the no-overlap triggers: for a future booking only reservations that
-- end after its start are scanned, not the spot's whole history.
CREATE INDEX reservations_spot_end ON reservations (spot_id, end_us);
CREATE INDEX reservations_lot_start ON reservations (lot_id, start_us);
CREATE INDEX reservations_user_created ON reservations (user_id, created_us);
CREATE INDEX reservations_status_hold ON reservations (status, hold_expires_us);

-- No-overlap, enforced by the database beside the core's own check
-- (DESIGN.md invariant 1). A reservation is *blocking* when it is confirmed or
-- checked in, or held with a hold that has not expired yet. A blocking row may
-- not overlap another blocking row on the same spot, each widened by the lot's
-- turnover buffer. Intervals are half-open, so touching bookings (one ends
-- exactly when the next starts, buffer 0) are accepted.
--
-- The bounds are written column-on-the-left (`r.end_us > NEW.start_us - b`) so
-- that the (spot_id, end_us) index can serve them.
CREATE TRIGGER reservations_no_overlap_insert
BEFORE INSERT ON reservations
WHEN NEW.status IN ('confirmed', 'checked_in')
  OR (NEW.status = 'held'
      AND NEW.hold_expires_us > CAST(unixepoch('subsec') * 1000000 AS INTEGER))
BEGIN
    SELECT RAISE(ABORT, 'reservation_overlap')
    WHERE EXISTS (
        SELECT 1 FROM reservations AS r
        WHERE r.spot_id = NEW.spot_id
          AND r.id <> NEW.id
          AND (r.status IN ('confirmed', 'checked_in')
               OR (r.status = 'held'
                   AND r.hold_expires_us > CAST(unixepoch('subsec') * 1000000 AS INTEGER)))
          AND r.start_us < NEW.end_us
              + COALESCE((SELECT turnover_buffer_minutes FROM lots WHERE id = NEW.lot_id), 0) * 60000000
          AND r.end_us > NEW.start_us
              - COALESCE((SELECT turnover_buffer_minutes FROM lots WHERE id = NEW.lot_id), 0) * 60000000
    );
END;

CREATE TRIGGER reservations_no_overlap_update
BEFORE UPDATE OF start_us, end_us, status, spot_id, hold_expires_us ON reservations
WHEN NEW.status IN ('confirmed', 'checked_in')
  OR (NEW.status = 'held'
      AND NEW.hold_expires_us > CAST(unixepoch('subsec') * 1000000 AS INTEGER))
BEGIN
    SELECT RAISE(ABORT, 'reservation_overlap')
    WHERE EXISTS (
        SELECT 1 FROM reservations AS r
        WHERE r.spot_id = NEW.spot_id
          AND r.id <> NEW.id
          AND (r.status IN ('confirmed', 'checked_in')
               OR (r.status = 'held'
                   AND r.hold_expires_us > CAST(unixepoch('subsec') * 1000000 AS INTEGER)))
          AND r.start_us < NEW.end_us
              + COALESCE((SELECT turnover_buffer_minutes FROM lots WHERE id = NEW.lot_id), 0) * 60000000
          AND r.end_us > NEW.start_us
              - COALESCE((SELECT turnover_buffer_minutes FROM lots WHERE id = NEW.lot_id), 0) * 60000000
    );
END;

-- A retried request with the same key from the same user returns the first
-- answer (DESIGN.md invariant 3).
CREATE TABLE idempotency_keys (
    user_id        TEXT    NOT NULL,
    key            TEXT    NOT NULL,
    request_hash   TEXT    NOT NULL,
    status_code    INTEGER NOT NULL,
    response_json  TEXT    NOT NULL,
    created_us     INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) STRICT;

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_us);

-- The outbox (DESIGN.md invariant 4): every state change writes its event in
-- the same transaction. `seq` orders all events; `lot_seq` is the per-lot
-- sequence, filled by whoever writes the event (max + 1 within the writer's
-- transaction), and unique per lot.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    lot_id        TEXT,
    lot_seq       INTEGER,
    type          TEXT    NOT NULL,
    payload_json  TEXT    NOT NULL,
    occurred_us   INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX events_lot_seq ON events (lot_id, lot_seq);
