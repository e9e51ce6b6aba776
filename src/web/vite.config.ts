// Builds the dashboard SPA into dist/web, which the package ships: the page must work inside a
// network that blocks the Internet, so everything (scripts, styles, chart library) is bundled.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const webRoot = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: webRoot,
  // Relative asset URLs, so the dashboard works wherever the admin address serves it.
  base: './',
  publicDir: false,
  // Vite 8 transforms with Oxc (its `esbuild` option is deprecated): JSX compiles to Preact's runtime.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // No inline data: URLs for assets; the server's CSP allows only same-origin files.
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    // `vite --config src/web/vite.config.ts` for development, against a running admin address.
    proxy: { '/api': process.env.PATHWARDEN_ADMIN ?? 'http://127.0.0.1:9181' },
  },
});
