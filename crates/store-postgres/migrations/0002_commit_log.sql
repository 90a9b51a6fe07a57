-- The commit log: every commit's write set (the store's encoding: which documents and index
-- keys it changed, no bodies), written in the commit's own transaction under its timestamp, so
-- other instances re-run only the live queries a commit touched (see src/log.rs). A
-- notification on the channel `keel_commits` carries only the timestamp.
CREATE TABLE keel_commit_log (
    ts bigint PRIMARY KEY,
    -- NULL: the writes are not known (an index rebuild); readers re-check everything.
    writes bytea
);

-- How far pruning reached: commits at or before `through` may be gone from the log. A log
-- created on a database that already had commits holds none of them.
CREATE TABLE keel_commit_log_pruned (
    id integer PRIMARY KEY CHECK (id = 1),
    through bigint NOT NULL
);
INSERT INTO keel_commit_log_pruned (id, through) SELECT 1, last_ts FROM keel_clock;
