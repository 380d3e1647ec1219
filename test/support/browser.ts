// Debian's Chromium driven by playwright-core, which downloads no browser of its own. The
// flags keep it off the network it would otherwise try at start (updates, sync, Google's
// hosts), which this machine refuses; Playwright gives each launch a fresh profile.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Where a test's screenshots go: test-results/<name>/, kept as the run's artifacts. */
export async function artifactDir(name: string): Promise<string> {
  const dir = new URL(`../../test-results/${name}/`, import.meta.url).pathname;
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Saves a full-page screenshot as NN-step.png. */
export async function snap(page: Page, dir: string, step: string): Promise<string> {
  const path = join(dir, `${step}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
