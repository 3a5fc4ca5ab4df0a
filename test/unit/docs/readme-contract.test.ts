// The README's tables are the contract users read; these tests keep them and the code in step in both
// directions, so a code or variable cannot exist in one without the other.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Config, configSchema, loadConfig } from '../../../src/config/index.js';
import { FAILURE_CODES } from '../../../src/failures/index.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** Rows of the first table after a heading: first and second cells, backticks removed. */
function tableRows(heading: string): Array<[string, string]> {
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start, `README has a "## ${heading}" section`).toBeGreaterThan(-1);
  const section = readme.slice(start + heading.length + 5).split('\n## ')[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim().replace(/`/g, ''));
      return [cells[1] ?? '', cells[2] ?? ''];
    });
}

describe('README', () => {
  it('lists every failure code with its retry behaviour, and no other', () => {
    const documented = Object.fromEntries(tableRows('Failure codes'));
    const expected = Object.fromEntries(
      Object.entries(FAILURE_CODES).map(([code, { retryable }]) => [code, retryable ? 'yes' : 'no']),
    );
    expect(documented).toEqual(expected);
  });

  it('documents every configuration variable, and no other', () => {
    const documented = tableRows('Configuration').map(([name]) => name);
    expect(documented.sort()).toEqual(Object.keys(configSchema.shape).sort());
  });

  it('states the defaults the configuration really has', () => {
    const defaults: Record<string, unknown> = loadConfig({});
    for (const [name, documentedDefault] of tableRows('Configuration')) {
      const actual = defaults[name];
      if (documentedDefault.startsWith('(')) {
        expect([undefined, ''], name).toContain(Array.isArray(actual) ? actual.join(',') : actual);
      } else if (typeof actual === 'number' && !/^\d+(\.\d+)?$/.test(documentedDefault)) {
        // A duration is documented as written (7d) and read as seconds: the two must mean the same.
        expect(loadConfig({ [name]: documentedDefault })[name as keyof Config], name).toBe(actual);
      } else {
        expect(String(actual), name).toBe(documentedDefault);
      }
    }
  });
});
