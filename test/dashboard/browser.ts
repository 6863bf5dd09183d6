/**
 * Headless Chromium through playwright-core (no browser download: the Debian `chromium`
 * binary, or FLOTILLA_CHROMIUM). A fresh profile dir per launch, removed on close.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The browser binary, or null when none is installed (the caller prints why it skips). */
export function chromiumPath(): string | null {
  const env = process.env.FLOTILLA_CHROMIUM;
  if (env) return env;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** A browser context on a fresh profile (playwright takes the profile dir itself, not as --user-data-dir). */
export async function launchChromium(
  executablePath: string,
  viewport = { width: 1360, height: 900 },
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'flotilla-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A page expression (for page.waitForFunction) true once chart `id` has at least n points. */
export function chartHas(id: 'loss' | 'eval' | 'cluster', n: number): string {
  return `Number(document.querySelector('[data-chart=${id}]')?.getAttribute('data-points')) >= ${n}`;
}
