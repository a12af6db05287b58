-- parkd PostgreSQL schema, version 2: the outbox dispatcher's cursor (as
-- SQLite's 0002). One row: the highest `events.seq` published; it only moves
-- forward (several instances may each advance it; the largest wins).

CREATE TABLE event_cursor (
    id             integer PRIMARY KEY CHECK (id = 1),
    published_seq  bigint  NOT NULL CHECK (published_seq >= 0)
);

INSERT INTO event_cursor (id, published_seq) VALUES (1, 0);
