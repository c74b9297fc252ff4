-- Every ingest transaction updates the running totals of its customers; the table keeps room on each
-- page (fillfactor 70, migration 0003) so that those updates are HOT: rewritten on their page, no index
-- touched. The usage-alert scan's btree on updated_at (migration 0065) indexed a column every such
-- update changes, which made each of them a full update with a new entry in both indexes (about a
-- quarter of the ingest statement's time: docs/BENCHMARKS.md). A BRIN index summarizes instead, and
-- since PostgreSQL 16 an update that changes only summarized columns stays HOT. The scan reads the
-- page ranges whose newest change is recent: with busy customers that is most of a small table, which
-- the alert check (every 30 s) can afford and ingest (every batch) could not.
DROP INDEX usage_running_totals_updated_idx;
CREATE INDEX usage_running_totals_updated_brin ON usage_running_totals USING brin (updated_at);
