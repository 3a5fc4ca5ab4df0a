// Every synthesis in the tests writes a cloud assembly. They all go under one temporary directory,
// created before the test workers start (they inherit its path) and removed when the run ends.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const outRoot = mkdtempSync(path.join(tmpdir(), 'dcr-cdk-test-'));
  process.env.CDK_TEST_OUT_ROOT = outRoot;
  return () => rmSync(outRoot, { recursive: true, force: true });
}
