-- parkd PostgreSQL schema, version 5 (SQLite's 0005_consumer_cursors): cursors
-- of the outbox's named consumers.
--
-- Each consumer that publishes the outbox somewhere slower than memory (the
-- Kafka publisher, `kafka`) keeps its own cursor, so a broker that is down
-- holds back only that consumer, never the in-process bus (`event_cursor`).
-- A row holds the highest `events.seq` the consumer has finished; it moves
-- only forward (`GREATEST` on update, since several instances may write it).
-- A consumer without a row starts at 0: the whole outbox is published once.

CREATE TABLE consumer_cursors (
    name  text   PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    seq   bigint NOT NULL CHECK (seq >= 0)
);
