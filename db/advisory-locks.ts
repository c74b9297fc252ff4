/**
 * Advisory lock ids shared by processes that must agree on an order.
 *
 * INGEST_COMMIT: every ingest transaction holds it shared while it writes; closing a period takes it
 * exclusively for a moment after its closure row commits. When the exclusive lock is granted, every
 * ingest transaction that could have missed the closure has committed, and every later one sees it
 * (and marks its events late). So an event is either in the period's snapshot or late, never neither.
 */
export const ADVISORY_LOCKS = {
  MIGRATIONS: 7_301_001,
  /** Creating a month partition of usage_events (taken inside ensure_usage_events_partition, migrations 0001 and 0121). */
  USAGE_PARTITIONS: 7_301_002,
  INGEST_COMMIT: 7_301_003,
  /**
   * With a hash of `customer:period` as the second key (`pg_advisory_xact_lock(int4, int4)`): one
   * usage-alert check of a customer-period at a time, so two never both record the same crossing.
   */
  USAGE_ALERT_CHECK: 7_301_004,
  /** Appending to the hash-chained audit log: one writer at a time, so each row links to the one before. */
  AUDIT_APPEND: 7_301_200,
  /** With a hash of `source:period` as the second key: one legacy import of a source-period at a time, so versions never collide. */
  SHADOW_IMPORT: 7_301_350,
  /**
   * With a hash of the customer id as the second key (transaction-scoped): one sealing of a
   * customer's marketplace hours at a time, so two senders never seal the same hour twice.
   */
  MARKETPLACE_SEAL: 7_301_050,
  /**
   * With a hash of the marketplace kind as the second key (session-scoped, held for a send pass):
   * one sender per marketplace at a time. Resends are identical records, so two would be harmless;
   * one keeps the attempt log readable.
   */
  MARKETPLACE_SEND: 7_301_051,
  /**
   * With a hash of `customer:period` as the second key: one backfill writes a customer-period's
   * adjustment at a time, so two backfills of the same range adjust once (the second sees the first).
   */
  BACKFILL_PERIOD: 7_301_250,
  /**
   * With a hash of `customer:period` as the second key (transaction-scoped): one start of a held
   * period's re-run at a time, so two re-runs never both void the held draft.
   */
  PERIOD_RERUN: 7_301_260,
  /**
   * With a hash of the customer id as the second key (transaction-scoped): a flip of the customer's
   * billing authority and a close deciding a period's authority take turns, so a close sees a flip
   * whole or not at all.
   */
  BILLING_AUTHORITY: 7_301_360,
} as const;
