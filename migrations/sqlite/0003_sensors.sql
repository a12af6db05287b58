-- parkd SQLite schema, version 3: sensor devices, per-spot sensor state, alerts.
--
-- Same conventions as 0001: instants are INTEGER microseconds since the Unix
-- epoch (`_us`), UUIDs are TEXT, tables are STRICT.

-- A lot's sensor gateway and its key. Only the SHA-256 of the key is kept: the
-- key is 256 random bits, so a plain hash is enough and a lookup is one index
-- probe. A revoked key stays (for the listing) and is refused.
CREATE TABLE devices (
    id            TEXT    PRIMARY KEY NOT NULL,
    lot_id        TEXT    NOT NULL REFERENCES lots (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    key_hash      TEXT    NOT NULL UNIQUE,
    created_us    INTEGER NOT NULL,
    revoked_us    INTEGER,
    last_seen_us  INTEGER
) STRICT;

CREATE INDEX devices_lot ON devices (lot_id, created_us);

-- What a spot's sensor last said. `since_us` is the reading that set the
-- current occupancy (shown as the state's instant); `reading_us` is the newest
-- reading seen at all, so that an older reading arriving late never wins even
-- when a newer one only repeated the state.
CREATE TABLE spot_sensors (
    spot_id     TEXT    PRIMARY KEY NOT NULL REFERENCES spots (id) ON DELETE CASCADE,
    occupied    INTEGER NOT NULL CHECK (occupied IN (0, 1)),
    since_us    INTEGER NOT NULL,
    reading_us  INTEGER NOT NULL,
    CHECK (reading_us >= since_us)
) STRICT, WITHOUT ROWID;

-- Occupied spots, for the overstay sweep.
CREATE INDEX spot_sensors_occupied ON spot_sensors (occupied, spot_id);

-- Reconciling sensors with bookings. Every row is written with its
-- `alert_raised` event; acknowledging writes `alert_acknowledged`.
CREATE TABLE alerts (
    id               TEXT    PRIMARY KEY NOT NULL,
    lot_id           TEXT    NOT NULL REFERENCES lots (id) ON DELETE CASCADE,
    spot_id          TEXT    NOT NULL REFERENCES spots (id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL
                     CHECK (kind IN ('unexpected_occupancy', 'no_show_candidate', 'overstay')),
    reservation_id   TEXT    REFERENCES reservations (id) ON DELETE CASCADE,
    raised_us        INTEGER NOT NULL,
    detail           TEXT    NOT NULL,
    acknowledged_us  INTEGER,
    acknowledged_by  TEXT    REFERENCES users (id),
    CHECK ((acknowledged_us IS NULL) = (acknowledged_by IS NULL)),
    CHECK ((kind = 'unexpected_occupancy') = (reservation_id IS NULL))
) STRICT;

-- Dedupe in the schema. A booking gets at most one alert of each kind, ever:
-- acknowledging an overstay must not bring it back at the next sweep.
CREATE UNIQUE INDEX alerts_one_per_booking ON alerts (reservation_id, kind)
    WHERE reservation_id IS NOT NULL;
-- A spot has at most one open unexpected-occupancy alert; once acknowledged,
-- the next unexpected arrival raises a new one.
CREATE UNIQUE INDEX alerts_one_open_per_spot ON alerts (spot_id, kind)
    WHERE reservation_id IS NULL AND acknowledged_us IS NULL;
CREATE INDEX alerts_raised ON alerts (raised_us);
CREATE INDEX alerts_lot_raised ON alerts (lot_id, raised_us);
