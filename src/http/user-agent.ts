// The User-Agent every outbound request carries: `dcr-provisioner/<version>`, so server operators can
// tell our traffic apart and report problems against a release.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'dcr-provisioner';

let cached: string | undefined;

/**
 * The version is read from our package.json, found by walking up from this module: the module runs
 * from `src/http` under tsx/vitest and from `dist/src/http` once compiled, so no fixed relative path fits both.
 */
export function defaultUserAgent(): string {
  if (cached === undefined) {
    const version = findVersion();
    cached = version === undefined ? PACKAGE_NAME : `${PACKAGE_NAME}/${version}`;
  }
  return cached;
}

function findVersion(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const version = readVersion(path.join(dir, 'package.json'));
    if (version !== undefined) return version;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function readVersion(file: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
    return pkg.name === PACKAGE_NAME && typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    // Missing or unreadable: keep walking up.
    return undefined;
  }
}
