// How a breaker transition is logged: a pure mapping from the transition to a level and a message.

import { describe, expect, it } from 'vitest';
import { breakerTransitionLog } from '../../../src/limits/index.js';

describe('limits/breakerTransitionLog', () => {
  it('warns when a breaker opens or re-opens and informs when it probes or closes', () => {
    const host = 'ehr.example';
    expect(breakerTransitionLog({ host, from: 'closed', to: 'open' })).toEqual({
      level: 'warn',
      message: 'server circuit breaker opened',
    });
    expect(breakerTransitionLog({ host, from: 'half_open', to: 'open' })).toEqual({
      level: 'warn',
      message: 'server circuit breaker re-opened: the probe failed',
    });
    expect(breakerTransitionLog({ host, from: 'open', to: 'half_open' }).level).toBe('info');
    expect(breakerTransitionLog({ host, from: 'half_open', to: 'closed' })).toEqual({
      level: 'info',
      message: 'server circuit breaker closed',
    });
  });
});
