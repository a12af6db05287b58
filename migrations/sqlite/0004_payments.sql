-- parkd SQLite schema, version 4: online payments through Stripe.
--
-- parkd never sees card data: the driver's app (or an operator's desk, with a
-- saved payment method id) confirms a PaymentIntent with Stripe directly. What
-- is kept here is the intent's id, amounts in integer minor units of the
-- booking's currency, and the refunds made. There is deliberately no column
-- for any payment instrument detail: Stripe keeps those.

-- `on_site`: no online payment, bookings confirm at once. `prepaid`: a booking
-- is held until its PaymentIntent succeeds.
ALTER TABLE lots ADD COLUMN payment_mode TEXT NOT NULL DEFAULT 'on_site'
    CHECK (payment_mode IN ('on_site', 'prepaid'));

-- One row per PaymentIntent: the first charge of a booking, or the extra
-- charge of an extension. `refunded_amount` never exceeds `amount`.
CREATE TABLE payments (
    id                 TEXT    PRIMARY KEY NOT NULL,
    reservation_id     TEXT    NOT NULL REFERENCES reservations (id),
    lot_id             TEXT    NOT NULL REFERENCES lots (id),
    user_id            TEXT    NOT NULL REFERENCES users (id),
    purpose            TEXT    NOT NULL CHECK (purpose IN ('booking', 'extension')),
    amount             INTEGER NOT NULL CHECK (amount > 0),
    currency           TEXT    NOT NULL,
    refunded_amount    INTEGER NOT NULL DEFAULT 0
                       CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    status             TEXT    NOT NULL
                       CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded',
                                         'partially_refunded')),
    -- The key sent to Stripe with the create call: a retry never makes a
    -- second intent.
    stripe_idempotency_key  TEXT NOT NULL UNIQUE,
    -- NULL until Stripe answered the create call.
    intent_id          TEXT    UNIQUE,
    -- Lets the payer's app confirm the intent with Stripe; not card data.
    client_secret      TEXT,
    failure_reason     TEXT,
    created_us         INTEGER NOT NULL,
    updated_us         INTEGER NOT NULL
) STRICT;

CREATE INDEX payments_reservation ON payments (reservation_id, created_us);
CREATE INDEX payments_lot_created ON payments (lot_id, created_us);
CREATE INDEX payments_status ON payments (status, created_us);

CREATE TABLE refunds (
    id                 TEXT    PRIMARY KEY NOT NULL,
    payment_id         TEXT    NOT NULL REFERENCES payments (id),
    -- NULL for a refund made outside parkd (learnt from `charge.refunded`).
    stripe_refund_id   TEXT    UNIQUE,
    amount             INTEGER NOT NULL CHECK (amount > 0),
    currency           TEXT    NOT NULL,
    reason             TEXT    NOT NULL,
    created_us         INTEGER NOT NULL
) STRICT;

CREATE INDEX refunds_payment ON refunds (payment_id, created_us);

-- Stripe event ids already acted on: a webhook delivered twice acts once.
CREATE TABLE processed_webhook_events (
    event_id      TEXT    PRIMARY KEY NOT NULL,
    event_type    TEXT    NOT NULL,
    processed_us  INTEGER NOT NULL
) STRICT;
