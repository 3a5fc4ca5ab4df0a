// The product's version, read from our package.json. Found by walking up from this module: it runs from
// `src/` under tsx/vitest and from `dist/src/` once compiled, so no fixed relative path fits both.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'dcr-provisioner';
let cached: { version: string | undefined } | undefined;

export function productVersion(): string | undefined {
  cached ??= { version: findVersion() };
  return cached.version;
}

function findVersion(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Missing or unreadable: keep walking up.
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
