// Where tests write what they produce for people to look at (screenshots): never into tracked
// files. `npm run docs:screenshots` points this at docs/screenshots/ to refresh the documentation.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../catalog/load.js';

/** The path for one screenshot: $PATHWARDEN_SCREENSHOTS, or test-output/screenshots/ (gitignored). */
export function screenshotPath(name: string): string {
  const configured = process.env.PATHWARDEN_SCREENSHOTS;
  const dir = configured ? resolve(configured) : join(packageRoot(), 'test-output', 'screenshots');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
