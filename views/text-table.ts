import Table from 'cli-table3';

const NO_BORDERS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
} as const;

export interface TextTableOptions {
  /** Column indexes aligned right (amounts, counts). */
  readonly rightAligned?: readonly number[];
}

/**
 * Every table Tally prints in a terminal: a header row, then one row per record, columns two spaces
 * apart and no borders, so the output is easy to read and to grep. Widths count what the terminal
 * shows (wide and combining characters included, cli-table3 with string-width).
 *
 * Example: textTable(['customer', 'total'], [['acme', '990.00']], { rightAligned: [1] }) →
 * "customer   total\nacme      990.00\n".
 */
export function textTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  options: TextTableOptions = {},
): string {
  const right = new Set(options.rightAligned ?? []);
  const table = new Table({
    head: [...headers],
    chars: NO_BORDERS,
    style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [], compact: true },
    colAligns: headers.map((_, column) => (right.has(column) ? 'right' : 'left')),
  });
  for (const row of rows) table.push(headers.map((_, column) => row[column] ?? ''));
  return `${table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')}\n`;
}

/** The same table from records: one column per name in `columns`, missing values blank. */
export function recordTable(
  records: readonly Record<string, string | number | undefined>[],
  columns: readonly string[],
  options: TextTableOptions = {},
): string {
  return textTable(
    columns,
    records.map((record) => columns.map((column) => String(record[column] ?? ''))),
    options,
  );
}
