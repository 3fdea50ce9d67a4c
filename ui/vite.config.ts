import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

/// The app's CSP (from src-tauri/tauri.conf.json) as a meta tag in built
/// pages, so browser tests of the built UI run under the same policy.
function csp(): Plugin {
  const conf = JSON.parse(readFileSync(new URL('../src-tauri/tauri.conf.json', import.meta.url), 'utf8'));
  const policy = Object.entries(conf.app.security.csp as Record<string, string>)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ');
  return {
    name: 'tandem-csp',
    apply: 'build',
    transformIndexHtml: () => [
      { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: policy }, injectTo: 'head-prepend' },
    ],
  };
}

export default defineConfig({
  plugins: [svelte(), csp()],
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    target: 'es2022',
    // Never inline assets as data: URLs; the CSP allows only 'self'.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
