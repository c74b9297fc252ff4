import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { loadRateCardFile } from '../../config/config-files.ts';
import { publishRateCardVersion } from '../../db/queries/ratecard-publications.ts';

/**
 * A folder of rate-card files written by a test, as Finance would keep them
 * (`<root>/<ratecard>/<effective_from>.yaml`), and publishing them into a database's change log.
 */
export class RateCardFiles {
  private constructor(readonly root: string) {}

  static async create(prefix = 'tally-ratecards-'): Promise<RateCardFiles> {
    return new RateCardFiles(await mkdtemp(path.join(os.tmpdir(), prefix)));
  }

  /** Writes one version: a per-unit token price and an optional monthly fee. Returns the file's path. */
  async write(
    ratecard: string,
    effectiveFrom: string,
    options: { tokenPrice: string; fee?: string; currency?: string } = { tokenPrice: '0.001' },
  ): Promise<string> {
    const folder = path.join(this.root, ratecard);
    await mkdir(folder, { recursive: true });
    const file = path.join(folder, `${effectiveFrom.slice(0, 10)}.yaml`);
    const fees =
      options.fee === undefined
        ? ''
        : `fees:\n  - { id: platform, description: Platform fee, amount: "${options.fee}" }\n`;
    await writeFile(
      file,
      `ratecard: ${ratecard}\neffective_from: ${effectiveFrom}\ncurrency: ${options.currency ?? 'USD'}\n` +
        `prices:\n  - { id: tokens, sku: llm.tokens, unit: tokens, aggregation: sum, model: per_unit, unit_price: "${options.tokenPrice}" }\n` +
        fees,
    );
    return file;
  }

  /** Publishes a written version as `tally ratecards publish` does. */
  async publish(pool: pg.Pool, file: string, publishedBy = 'finance-test'): Promise<void> {
    const { version, text } = await loadRateCardFile(file);
    const outcome = await publishRateCardVersion(pool, {
      ratecard: version.ratecard,
      effectiveFrom: version.effective_from,
      contentHash: version.content_hash,
      content: text,
      fileName: `${version.ratecard}/${path.basename(file)}`,
      note: '',
      publishedBy,
    });
    if (outcome.status === 'changed') throw new Error(`${file} was published before with other content`);
  }
}
