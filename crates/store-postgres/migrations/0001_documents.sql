-- The same shape as the SQLite engine's first migration, in PostgreSQL's types.

-- The commit clock: one row holding the last commit timestamp (ns since the Unix epoch). Every
-- write transaction locks this row first and advances it at commit, so writers of every
-- instance are serialized and timestamps strictly increase across instances and restarts.
CREATE TABLE keel_clock (
    id integer PRIMARY KEY CHECK (id = 1),
    last_ts bigint NOT NULL
);
INSERT INTO keel_clock (id, last_ts) VALUES (1, 0);

-- Numbers of declared tables; a table number is part of every document id, so it never changes.
CREATE TABLE keel_tables (
    number integer PRIMARY KEY,
    name text NOT NULL UNIQUE
);

CREATE TABLE keel_indexes (
    number integer PRIMARY KEY,
    table_number integer NOT NULL REFERENCES keel_tables (number),
    name text NOT NULL,
    -- JSON array of field paths; a change means the index is rebuilt.
    fields text NOT NULL,
    UNIQUE (table_number, name)
);

-- Documents: user fields as Convex encoded JSON, kept as text so they come back byte for
-- byte (jsonb would reorder keys and refuse \u0000). Ids are ASCII: the "C" collation
-- compares them as bytes.
CREATE TABLE keel_documents (
    id text COLLATE "C" PRIMARY KEY,
    table_number integer NOT NULL,
    creation_time double precision NOT NULL,
    body text NOT NULL
);
CREATE INDEX keel_documents_by_table ON keel_documents (table_number);

-- Index entries: order-preserving keys. bytea compares like memcmp (then by length), which
-- is Convex's value order.
CREATE TABLE keel_index_entries (
    index_number integer NOT NULL,
    key bytea NOT NULL,
    id text COLLATE "C" NOT NULL,
    PRIMARY KEY (index_number, key)
);
