-- The catalog's version: every catalog change (an index added, redefined or built) moves it on,
-- and every transaction reads it with the clock, so a process learns at no extra cost that
-- another one (a newer version of the app, say) changed the catalog and reloads it.
ALTER TABLE keel_clock ADD COLUMN catalog_version bigint NOT NULL DEFAULT 0;

-- Whether an index's entries were built from its table's documents. A new or redefined index
-- is recorded unbuilt until the build commits, so an instance starting meanwhile builds it
-- rather than reading it half-built. Indexes already here were built when they were added.
ALTER TABLE keel_indexes ADD COLUMN built boolean NOT NULL DEFAULT true;
