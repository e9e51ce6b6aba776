// Writes the demo data set (demo/logs/, demo/topology.yaml, demo/README.md) from its generator in
// src/audit/demo/. Usage: npm run build && node dist/scripts/make-demo.js [DIR]   (default: demo/)
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateDemo, writeDemo } from '../src/audit/demo/generate.js';
import { demoDir } from '../src/audit/demo/location.js';

const dir = process.argv[2] ?? demoDir();
// logs/ is generated whole: clear it so that a file the generator no longer writes cannot linger.
rmSync(join(dir, 'logs'), { recursive: true, force: true });
const bundle = generateDemo();
const written = writeDemo(bundle, dir);
const flows = Object.values(bundle.verdicts).reduce((sum, count) => sum + count, 0);
process.stdout.write(
  `wrote ${written.length} files to ${dir}: ${flows} flows, ${bundle.leaks.length} leaks (${Object.entries(
    bundle.verdicts,
  )
    .map(([verdict, count]) => `${verdict} ${count}`)
    .join(', ')})\n`,
);
