import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { repositoryRoot } from '../../config/services.ts';

/** Debian's Chromium (`make install` installs it with apt-get when missing); never a downloaded browser build. */
const CHROMIUM = '/usr/bin/chromium';

/** Where browser tests leave their screenshots (git-ignored). */
export const BROWSER_ARTIFACTS = path.join(repositoryRoot, 'test-artifacts', 'console');

/**
 * Headless Chromium (Playwright gives each launch a fresh, empty profile) with no background
 * traffic: this network reaches nothing outside, and Chromium would otherwise keep trying
 * (component updates, sync, QUIC probes).
 */
export async function launchChromium(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: run \`make install\` (as root it runs apt-get install -y chromium)`);
  await mkdir(BROWSER_ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}
