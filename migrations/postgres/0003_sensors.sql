-- parkd PostgreSQL schema, version 3 (SQLite's 0003_sensors): sensor devices,
-- per-spot sensor state, alerts.
--
-- Same conventions as 0001: ids `uuid`, instants `timestamptz` (microseconds).

-- A lot's sensor gateway and its key. Only the SHA-256 of the key is kept: the
-- key is 256 random bits, so a plain hash is enough and a lookup is one index
-- probe. A revoked key stays (for the listing) and is refused.
CREATE TABLE devices (
    id            uuid        PRIMARY KEY,
    lot_id        uuid        NOT NULL REFERENCES lots (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    key_hash      text        NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    last_seen_at  timestamptz
);

CREATE INDEX devices_lot ON devices (lot_id, created_at);

-- What a spot's sensor last said. `since` is the reading that set the current
-- occupancy (shown as the state's instant); `reading_at` is the newest reading
-- seen at all, so that an older reading arriving late never wins even when a
-- newer one only repeated the state.
CREATE TABLE spot_sensors (
    spot_id     uuid        PRIMARY KEY REFERENCES spots (id) ON DELETE CASCADE,
    occupied    boolean     NOT NULL,
    since       timestamptz NOT NULL,
    reading_at  timestamptz NOT NULL,
    CHECK (reading_at >= since)
);

-- Occupied spots, for the overstay sweep.
CREATE INDEX spot_sensors_occupied ON spot_sensors (spot_id) WHERE occupied;

-- Reconciling sensors with bookings. Every row is written with its
-- `alert_raised` event; acknowledging writes `alert_acknowledged`.
--
-- `reservation_id` is not a foreign key: reservations are partitioned with the
-- primary key (lot_id, id), and a key check would lock the booking's row on
-- every alert (see 0001 on why reservations avoid shared locks). Alerts go
-- with their lot and spot (cascade); reservations are never deleted alone.
CREATE TABLE alerts (
    id               uuid        PRIMARY KEY,
    lot_id           uuid        NOT NULL REFERENCES lots (id) ON DELETE CASCADE,
    spot_id          uuid        NOT NULL REFERENCES spots (id) ON DELETE CASCADE,
    kind             text        NOT NULL
                     CHECK (kind IN ('unexpected_occupancy', 'no_show_candidate', 'overstay')),
    reservation_id   uuid,
    raised_at        timestamptz NOT NULL,
    detail           text        NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  uuid        REFERENCES users (id),
    CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL)),
    CHECK ((kind = 'unexpected_occupancy') = (reservation_id IS NULL))
);

-- Dedupe in the schema. A booking gets at most one alert of each kind, ever:
-- acknowledging an overstay must not bring it back at the next sweep.
CREATE UNIQUE INDEX alerts_one_per_booking ON alerts (reservation_id, kind)
    WHERE reservation_id IS NOT NULL;
-- A spot has at most one open unexpected-occupancy alert; once acknowledged,
-- the next unexpected arrival raises a new one.
CREATE UNIQUE INDEX alerts_one_open_per_spot ON alerts (spot_id, kind)
    WHERE reservation_id IS NULL AND acknowledged_at IS NULL;
CREATE INDEX alerts_raised ON alerts (raised_at DESC, id DESC);
CREATE INDEX alerts_lot_raised ON alerts (lot_id, raised_at DESC);
-- A spot's alerts (the open-alert probe on every arrival).
CREATE INDEX alerts_spot ON alerts (spot_id);

-- A spot's bookings by end: whether one covers a reading, which one an
-- occupancy outlasted (every reading and the overstay sweep ask).
CREATE INDEX reservations_spot_end ON reservations (spot_id, end_time);
