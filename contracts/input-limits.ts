/**
 * The longest line any file reader takes, in bytes (docs/decisions/bad-input.md). A usage event is
 * at most a few tens of kilobytes (32 metadata values of 256 characters) and a line of a rate card
 * or contract far less; a longer line is a broken file, and reading it whole would only exhaust
 * memory (readline's 600 MB line was a RangeError). Longer lines are refused with file, line and
 * this limit.
 */
export const MAX_LINE_BYTES = 1024 * 1024;

/** The largest rate-card or contract file read (they are read whole, then parsed). */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;
