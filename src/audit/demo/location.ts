// Where the bundled demo data set lives: `demo/` at the package root (next to `catalog/`), found
// the same way as the built-in catalog so that it works from src/ under vitest and from dist/.
import { join } from 'node:path';
import { packageRoot } from '../../catalog/builtin.js';

export function demoDir(): string {
  return join(packageRoot(), 'demo');
}
