// Dashboards and log searches are written from the README: its Metrics and Logs tables and the code must
// name the same series, labels and fields, in both directions.

import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/observability/index.js';
import { outcomeFields } from '../../../src/observability/provisioning-observer.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** Cells of the first table in a `## heading` section whose first cell is code, backticks kept. */
function tableRows(heading: string): string[][] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start, `README has a "## ${heading}" section`).toBeGreaterThan(-1);
  const section = readme.slice(start + heading.length + 5).split('\n## ')[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

const code = (cell: string | undefined) =>
  [...(cell ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

describe('README', () => {
  it('documents every dcr_ series with its type and labels, and no other', async () => {
    const registry = new Registry();
    // A queue, so that dcr_queue_jobs has values and shows its label.
    createMetrics({ registry, queue: { getJobCounts: async () => ({}) } });
    const actual = (await registry.getMetricsAsJSON())
      .filter((m) => m.name.startsWith('dcr_'))
      .map((m) => {
        const labels = new Set(m.values.flatMap((v) => Object.keys(v.labels)).filter((l) => l !== 'le'));
        return [m.name, m.type, [...labels].sort()];
      })
      .sort();
    const documented = tableRows('Metrics')
      .map(([name, type, labels]) => [code(name)[0], type, code(labels).sort()])
      .sort();
    expect(documented).toEqual(actual);
  });

  it('documents every field of the outcome line, and no other', () => {
    const everyField = outcomeFields({
      outcome: 'failed',
      jobId: 'j',
      attempt: 1,
      maxAttempts: 1,
      tenantId: 't',
      serverHost: 'h',
      code: 'timeout',
      message: 'm',
      clientId: 'c',
      durationMs: 1,
      phases: { discoveryMs: 1, cacheHit: true, registrationRequestMs: 1, secretWriteMs: 1 },
    });
    const documented = tableRows('Logs').map(([field]) => code(field)[0]);
    expect(documented.sort()).toEqual(['msg', ...Object.keys(everyField)].sort());
  });
});
