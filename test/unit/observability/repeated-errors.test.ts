import { describe, expect, it } from 'vitest';
import { atMostEvery } from '../../../src/observability/index.js';

describe('atMostEvery', () => {
  it('reports the first error, holds back repeats within the interval, then reports with their count', () => {
    let clock = 0;
    const reports: Array<[string, number]> = [];
    const onError = atMostEvery(
      1000,
      (err, suppressed) => reports.push([err.message, suppressed]),
      () => clock,
    );
    for (let i = 0; i < 50; i++) {
      onError(new Error(`MOVED ${i}`));
      clock += 10;
    }
    expect(reports).toEqual([['MOVED 0', 0]]);
    clock = 1000;
    onError(new Error('MOVED late'));
    expect(reports).toEqual([
      ['MOVED 0', 0],
      ['MOVED late', 49],
    ]);
  });
});
