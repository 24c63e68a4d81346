/**
 * The console's build (docs/console.md): `npm run build` writes dist/console, which the broker
 * serves at /console/. No inline script or style ends up in the output (the broker's CSP allows
 * neither), no asset is inlined as a data: URL, and nothing is fetched from a CDN.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/console/',
  publicDir: 'public',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: true,
    target: 'es2022',
  },
  logLevel: 'warn',
});
