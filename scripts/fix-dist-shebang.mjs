// npm's `bin` needs dist/index.js to start with a shebang and be executable; the bundler
// may drop or keep the one in src/index.ts depending on its version, so make it exactly one.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { URL } from 'node:url';

const file = new URL('../dist/index.js', import.meta.url);
const text = readFileSync(file, 'utf8').replace(/^(#![^\n]*\n)+/, '');
writeFileSync(file, `#!/usr/bin/env node\n${text}`);
chmodSync(file, 0o755);
