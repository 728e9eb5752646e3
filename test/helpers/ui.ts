// Test helpers for `podpath ui`: the real command as a child process (its printed address
// read back), and the system's Chromium driven by playwright-core (which downloads no browser).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { podpathBin, repoRoot } from './apiserver.ts';

export const chromiumPath = process.env.PODPATH_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots the tests save for review (gitignored). */
export const screenshotDir = path.join(repoRoot, 'test-results/ui');

export interface RunningUI {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `podpath ui ARGS`; resolves with the address it prints. */
export function startUI(args: string[]): Promise<RunningUI> {
  const child = spawn(process.execPath, [podpathBin, 'ui', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`podpath ui printed no address in 60 s:\n${out}\n${err}`));
    }, 60_000);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/\S+\?token=\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, child, stop });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`podpath ui exited (${code}):\n${out}\n${err}`));
    });
  });
}

/** The system's Chromium, headless; a clear error when it is not installed. */
export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(chromiumPath)) throw new Error(`${chromiumPath} not found: the ui tests drive Debian's Chromium (apt-get install -y chromium, or bash scripts/install-deps.sh)`);
  // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
}

/** The page at 1280×800; what it logs as an error (a Content-Security-Policy violation is one) goes to `errors`. */
export async function openPage(browser: Browser, url: string, colorScheme: 'light' | 'dark' = 'light', errors?: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme });
  if (errors) {
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
  }
  await page.goto(url);
  return page;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: false });
}
