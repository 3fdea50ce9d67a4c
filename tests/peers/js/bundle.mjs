// A test page's TypeScript bundled for Chromium, in memory. esbuild is
// passed in: the scripts import it late, so that a missing `npm ci` is
// reported in their own way.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/// page/`entry` as one script; the esbuild service is stopped after.
export async function bundlePage(esbuild, entry) {
  const result = await esbuild.build({
    entryPoints: [path.join(HERE, 'page', entry)],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome110',
    write: false,
    logLevel: 'warning',
  });
  await esbuild.stop(); // no further builds: let the esbuild service go
  return result.outputFiles[0].contents;
}
