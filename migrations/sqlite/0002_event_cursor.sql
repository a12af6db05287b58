-- parkd SQLite schema, version 2: the outbox dispatcher's cursor.
--
-- One row: the highest `events.seq` the dispatcher has published. It moves
-- only forward and only after the events up to it were handed on, so a restart
-- resumes after it (at least once: an event published just before a crash,
-- whose cursor update did not commit, is published again).
--
-- Starts at 0: on a database upgraded from version 1 every event already in the
-- outbox is published once.

CREATE TABLE event_cursor (
    id             INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    published_seq  INTEGER NOT NULL CHECK (published_seq >= 0)
) STRICT;

INSERT INTO event_cursor (id, published_seq) VALUES (1, 0);
