import { periodNameProblem } from '../../contracts/period-name.ts';
import { TallyError } from '../../contracts/tally-error.ts';
import { currencyMinorUnits } from '../../contracts/currency.ts';
import { LEGACY_CSV_HEADER, type LegacyLine } from './legacy-line.ts';
import { DECIMAL_PATTERN, NON_NEGATIVE_DECIMAL_PATTERN } from '../../contracts/patterns.ts';

/** One refused cell or row: where (file, line, field) and why. */
export interface LegacyFileProblem {
  readonly file: string;
  /** 1-based line of the file (the header is line 1). */
  readonly line: number;
  readonly field: string;
  readonly message: string;
}

/** A legacy file with any bad row is refused whole: nothing of it is imported. */
export class LegacyFileError extends TallyError {
  constructor(readonly problems: readonly LegacyFileProblem[]) {
    const shown = problems
      .slice(0, 20)
      .map((problem) => `${problem.file}:${problem.line}: ${problem.field}: ${problem.message}`);
    const more = problems.length > shown.length ? [`… and ${problems.length - shown.length} more`] : [];
    super('bad_legacy_file', [`legacy file refused, nothing imported:`, ...shown, ...more].join('\n  '), {
      permanent: true,
    });
  }
}

/**
 * Parses and validates the legacy CSV of SPEC §6 (`customer_id,period,price_id,quantity,amount,currency`).
 * Every row is checked (unknown currency, malformed decimal, an amount without exactly the
 * currency's minor digits, bad period, a key repeated within the file, one customer-period in two
 * currencies); any problem refuses the whole file with every problem found. Fields may be quoted
 * ("…", "" for a quote). Blank lines are skipped.
 */
export function parseLegacyCsv(file: string, text: string): LegacyLine[] {
  const problems: LegacyFileProblem[] = [];
  const records = splitCsv(text);
  const header = records[0];
  if (header === undefined || header.fields.join(',') !== LEGACY_CSV_HEADER.join(',')) {
    throw new LegacyFileError([
      {
        file,
        line: header?.line ?? 1,
        field: 'header',
        message: `expected ${LEGACY_CSV_HEADER.join(',')}, got ${JSON.stringify(header?.fields.join(',') ?? '')}`,
      },
    ]);
  }
  const lines: LegacyLine[] = [];
  const seenKeys = new Map<string, number>();
  const currencyOf = new Map<string, { currency: string; line: number }>();
  for (const record of records.slice(1)) {
    if (record.fields.length === 1 && record.fields[0] === '') continue;
    const problem = (field: string, message: string) => problems.push({ file, line: record.line, field, message });
    if (record.fields.length !== LEGACY_CSV_HEADER.length) {
      problem('row', `expected ${LEGACY_CSV_HEADER.length} fields, got ${record.fields.length}`);
      continue;
    }
    const [customerId, period, priceId, quantity, amount, currency] = record.fields as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const before = problems.length;
    if (customerId.trim() === '' || customerId !== customerId.trim())
      problem('customer_id', 'empty or padded with spaces');
    const periodProblem = periodNameProblem(period);
    if (periodProblem !== undefined) problem('period', periodProblem);
    if (priceId.trim() === '' || priceId !== priceId.trim()) problem('price_id', 'empty or padded with spaces');
    if (quantity !== '' && !NON_NEGATIVE_DECIMAL_PATTERN.test(quantity))
      problem('quantity', `malformed decimal ${JSON.stringify(quantity)} (a non-negative decimal or empty)`);
    const digits = currencyMinorUnits(currency);
    if (digits === undefined) problem('currency', `unknown currency ${JSON.stringify(currency)}`);
    if (!DECIMAL_PATTERN.test(amount)) problem('amount', `malformed decimal ${JSON.stringify(amount)}`);
    else if (digits !== undefined && (amount.split('.')[1]?.length ?? 0) !== digits)
      problem('amount', `${amount} does not have exactly ${digits} decimal digits for ${currency}`);
    const key = `${customerId}\u0000${period}\u0000${priceId}`;
    const firstLine = seenKeys.get(key);
    if (firstLine !== undefined)
      problem('price_id', `duplicate key ${customerId} ${period} ${priceId} (first on line ${firstLine})`);
    else seenKeys.set(key, record.line);
    const customerPeriod = `${customerId}\u0000${period}`;
    const first = currencyOf.get(customerPeriod);
    if (first === undefined) currencyOf.set(customerPeriod, { currency, line: record.line });
    else if (first.currency !== currency)
      problem(
        'currency',
        `${customerId} ${period} is in ${first.currency} on line ${first.line}: one customer-period has one currency`,
      );
    if (problems.length > before) continue;
    lines.push({
      customer_id: customerId,
      period,
      price_id: priceId,
      quantity: quantity === '' ? undefined : quantity,
      amount,
      currency,
    });
  }
  if (problems.length > 0) throw new LegacyFileError(problems);
  return lines;
}

interface CsvRecord {
  readonly line: number;
  readonly fields: string[];
}

/** RFC 4180 records with the line each starts on (CRLF or LF). */
function splitCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  for (let index = 0; index < body.length; index += 1) {
    const char = body[index] as string;
    if (quoted) {
      if (char === '"' && body[index + 1] === '"') {
        field += '"';
        index += 1;
      } else if (char === '"') quoted = false;
      else {
        if (char === '\n') line += 1;
        field += char;
      }
      continue;
    }
    if (char === '"' && field === '') quoted = true;
    else if (char === ',') {
      fields.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && body[index + 1] === '\n') index += 1;
      fields.push(field);
      records.push({ line: recordLine, fields });
      fields = [];
      field = '';
      line += 1;
      recordLine = line;
    } else field += char;
  }
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    records.push({ line: recordLine, fields });
  }
  return records;
}
