import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// DESIGN.md: src/keys is a plain library; it must never pull in Redis, BullMQ or AWS, so it stays
// usable (and testable) without any of them.
const keysDir = path.resolve(import.meta.dirname, '../../../src/keys');
const sources = readdirSync(keysDir).filter((name) => name.endsWith('.ts'));

function importsOf(source: string): string[] {
  return [...source.matchAll(/\bfrom\s+'([^']+)'|\bimport\s*\(\s*'([^']+)'\s*\)/g)].map(
    (match) => match[1] ?? match[2] ?? '',
  );
}

describe('keys/dependencies', () => {
  it('has sources to check', () => {
    expect(sources).toEqual(
      expect.arrayContaining(['client-assertion.ts', 'generate.ts', 'index.ts', 'jwks.ts']),
    );
  });

  it.each(sources)('%s imports only jose, node built-ins and its own modules', (name) => {
    const specifiers = importsOf(readFileSync(path.join(keysDir, name), 'utf8'));
    const foreign = specifiers.filter((s) => s !== 'jose' && !s.startsWith('node:') && !s.startsWith('./'));
    expect(foreign).toEqual([]);
  });
});
