// The image cannot be built here (no Docker engine), so the Dockerfile is checked by reading it: the
// stages, the non-root user, what it copies and what .dockerignore would leave out of the context.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

/** Instructions with their continuation lines joined, comments dropped. */
function instructions(text: string): Array<{ keyword: string; args: string }> {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

const dockerfile = instructions(read('Dockerfile'));
const stages = dockerfile.reduce<Array<Array<{ keyword: string; args: string }>>>((acc, instruction) => {
  if (instruction.keyword === 'FROM') acc.push([]);
  acc.at(-1)?.push(instruction);
  return acc;
}, []);
const runtime = stages.at(-1) ?? [];
const args = (stage: typeof runtime, keyword: string) =>
  stage.filter((i) => i.keyword === keyword).map((i) => i.args);

describe('Dockerfile', () => {
  it('builds on node:22-bookworm-slim in two stages', () => {
    expect(dockerfile.find((i) => i.keyword === 'ARG')?.args).toBe('NODE_IMAGE=node:22-bookworm-slim');
    expect(stages.map((stage) => stage[0]?.args)).toEqual([
      expect.stringMatching(/^\$\{NODE_IMAGE\} AS build$/),
      expect.stringMatching(/^\$\{NODE_IMAGE\} AS runtime$/),
    ]);
    expect(args(stages[0] ?? [], 'RUN').join('\n')).toMatch(/npm run build/);
  });

  it('installs production dependencies only in the runtime stage, without install scripts', () => {
    const installs = args(runtime, 'RUN').filter((run) => run.includes('npm ci'));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(args(runtime, 'COPY')).toContain('--from=build /app/dist ./dist');
  });

  it('runs `start` as the non-root node user, listening on all interfaces with a health check', () => {
    expect(args(runtime, 'USER')).toEqual(['node']);
    expect(args(runtime, 'ENV').join(' ')).toMatch(/NODE_ENV=production/);
    expect(args(runtime, 'ENV').join(' ')).toMatch(/HTTP_HOST=0\.0\.0\.0/);
    expect(args(runtime, 'EXPOSE')).toEqual(['3000']);
    expect(args(runtime, 'HEALTHCHECK')[0]).toMatch(/CMD \["node", "\/app\/healthcheck\.mjs"\]$/);
    expect(JSON.parse(args(runtime, 'ENTRYPOINT')[0] ?? '')).toEqual(['node', 'dist/src/cli/main.js']);
    expect(JSON.parse(args(runtime, 'CMD')[0] ?? '')).toEqual(['start']);
  });

  it('runs the compiled CLI that package.json names as its bin', () => {
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    expect(pkg.bin['dcr-provisioner']).toBe('dist/src/cli/main.js');
  });

  it('copies only paths that exist and that .dockerignore keeps in the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const sources = dockerfile
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(`${ROOT}${source}`), `${source} exists`).toBe(true);
      const excludedBy = ignored.find((pattern) => source === pattern || source.startsWith(`${pattern}/`));
      expect(excludedBy, `${source} is excluded by .dockerignore`).toBeUndefined();
    }
  });

  it('keeps dependencies, build output, local data and env files out of the build context', () => {
    const ignored = read('.dockerignore');
    for (const entry of ['node_modules', 'dist', '.data', '.git', '.env', '*.log', 'infra/cdk', 'coverage']) {
      expect(ignored.split('\n')).toContain(entry);
    }
  });
});
