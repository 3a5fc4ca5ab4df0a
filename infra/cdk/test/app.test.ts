// The app as the CDK CLI runs it: cdk.json's `app` command, context in CDK_CONTEXT_JSON, output in
// CDK_OUTDIR. Nothing here needs the network or AWS credentials, as `cdk synth` must not.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ECR_IMAGE } from './support.js';

const APP_DIR = fileURLToPath(new URL('..', import.meta.url));
const cdkJson = JSON.parse(readFileSync(path.join(APP_DIR, 'cdk.json'), 'utf8')) as {
  app: string;
  context: Record<string, unknown>;
};

/** Runs the app into a directory under the run's temporary root (removed by test/global-setup.ts). */
function runApp(context: Record<string, unknown>): Promise<{ code: number; stderr: string; outDir: string }> {
  const outDir = mkdtempSync(path.join(process.env.CDK_TEST_OUT_ROOT ?? tmpdir(), 'app-'));
  const [command = '', ...args] = cdkJson.app.split(' ');
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: APP_DIR,
        env: {
          ...process.env,
          CDK_OUTDIR: outDir,
          CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, ...context }),
        },
      },
      (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr, outDir }),
    );
  });
}

describe('bin/app.ts', () => {
  it('synthesises the DcrProvisioner stack from context alone', async () => {
    const { code, stderr, outDir } = await runApp({ imageUri: ECR_IMAGE });
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    expect(existsSync(path.join(outDir, 'DcrProvisioner.template.json'))).toBe(true);
  });

  it('stops with exit code 2 and the context key when a value is missing', async () => {
    const { code, stderr } = await runApp({});
    expect(code).toBe(2);
    expect(stderr).toMatch(/^error: context value imageUri is required/);
  });
});
