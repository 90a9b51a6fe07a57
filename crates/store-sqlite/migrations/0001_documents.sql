-- The commit clock: one row holding the last commit timestamp (ns since the Unix epoch). Every
-- write transaction advances it under SQLite's write lock, so timestamps are strictly
-- increasing across processes and restarts.
CREATE TABLE keel_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_ts INTEGER NOT NULL
);
INSERT INTO keel_clock (id, last_ts) VALUES (1, 0);

-- Numbers of declared tables; a table number is part of every document id, so it never changes.
CREATE TABLE keel_tables (
    number INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE keel_indexes (
    number INTEGER PRIMARY KEY,
    table_number INTEGER NOT NULL REFERENCES keel_tables (number),
    name TEXT NOT NULL,
    -- JSON array of field paths; a change means the index is rebuilt.
    fields TEXT NOT NULL,
    UNIQUE (table_number, name)
);

-- Documents: user fields as Convex encoded JSON.
CREATE TABLE keel_documents (
    id TEXT PRIMARY KEY,
    table_number INTEGER NOT NULL,
    creation_time REAL NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX keel_documents_by_table ON keel_documents (table_number);

-- Index entries: order-preserving keys (memcmp order is Convex's value order).
CREATE TABLE keel_index_entries (
    index_number INTEGER NOT NULL,
    key BLOB NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (index_number, key)
) WITHOUT ROWID;
