-- parkd PostgreSQL schema, version 4: online payments through Stripe (SQLite's
-- 0004_payments, with the same columns, checks and meaning).
--
-- parkd never sees card data: the driver's app (or an operator's desk, with a
-- saved payment method id) confirms a PaymentIntent with Stripe directly. What
-- is kept here is the intent's id, amounts in integer minor units (`bigint`)
-- beside the ISO-4217 currency, and the refunds made. There is deliberately no
-- column for any payment instrument detail: Stripe keeps those.

-- `on_site`: no online payment, bookings confirm at once. `prepaid`: a booking
-- is held until its PaymentIntent succeeds. Never written by a lot update, so
-- editing a lot keeps its mode.
ALTER TABLE lots ADD COLUMN payment_mode text NOT NULL DEFAULT 'on_site'
    CHECK (payment_mode IN ('on_site', 'prepaid'));

-- Start-up reads the prepaid lots: few, so a partial index.
CREATE INDEX lots_prepaid ON lots (id) WHERE payment_mode = 'prepaid';

-- One row per PaymentIntent: the first charge of a booking, or the extra
-- charge of an extension. `refunded_amount` never exceeds `amount`.
--
-- The reservation is referenced by its whole key `(lot_id, id)` (the
-- partitioned table's primary key), which also guarantees that the payment's
-- lot is its reservation's. Like reservations, payments carry no foreign key
-- to `lots` or `users`: the check would lock the lot's row for every payment
-- of a busy lot (see 0001_init.sql); the lot is checked through the
-- reservation, and users are never deleted.
CREATE TABLE payments (
    id                      uuid        PRIMARY KEY,
    reservation_id          uuid        NOT NULL,
    lot_id                  uuid        NOT NULL,
    user_id                 uuid        NOT NULL,
    purpose                 text        NOT NULL CHECK (purpose IN ('booking', 'extension')),
    amount                  bigint      NOT NULL CHECK (amount > 0),
    currency                text        NOT NULL,
    refunded_amount         bigint      NOT NULL DEFAULT 0
                            CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    status                  text        NOT NULL
                            CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded',
                                              'partially_refunded')),
    -- The key sent to Stripe with the create call: a retry never makes a
    -- second intent.
    stripe_idempotency_key  text        NOT NULL UNIQUE,
    -- NULL until Stripe answered the create call.
    intent_id               text        UNIQUE,
    -- Lets the payer's app confirm the intent with Stripe; not card data.
    client_secret           text,
    failure_reason          text,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    FOREIGN KEY (lot_id, reservation_id) REFERENCES reservations (lot_id, id)
);

CREATE INDEX payments_reservation ON payments (reservation_id, created_at);
CREATE INDEX payments_lot_created ON payments (lot_id, created_at);
CREATE INDEX payments_status ON payments (status, created_at);
CREATE INDEX payments_user_created ON payments (user_id, created_at);

CREATE TABLE refunds (
    id                uuid        PRIMARY KEY,
    payment_id        uuid        NOT NULL REFERENCES payments (id),
    -- NULL for a refund made outside parkd (learnt from `charge.refunded`).
    stripe_refund_id  text        UNIQUE,
    amount            bigint      NOT NULL CHECK (amount > 0),
    currency          text        NOT NULL,
    reason            text        NOT NULL,
    created_at        timestamptz NOT NULL
);

CREATE INDEX refunds_payment ON refunds (payment_id, created_at);

-- Stripe event ids already acted on: a webhook delivered twice acts once,
-- whichever instance receives each delivery (the primary key decides).
CREATE TABLE processed_webhook_events (
    event_id      text        PRIMARY KEY,
    event_type    text        NOT NULL,
    processed_at  timestamptz NOT NULL
);
