/** Why an event was refused. Every rejected event is stored with its raw bytes and one of these (SPEC §1). */
export const REJECTION_REASONS = [
  'malformed_json',
  'schema_violation',
  'bad_signature',
  'unknown_source',
  'timestamp_too_old',
  'timestamp_in_future',
  'id_conflict',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];
