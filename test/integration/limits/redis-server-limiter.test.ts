// The fleet-wide server limiter on a real Redis: two limiter instances on separate connections stand for
// two worker processes. In-flight cap, leases that outlive a dead holder only briefly, request rate,
// and the circuit breaker's closed -> open -> half-open -> closed/open cycle with one probe at a time.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Admission,
  type BreakerTransition,
  RedisServerLimiter,
  type RedisServerLimiterOptions,
  type ServerPermit,
} from '../../../src/limits/index.js';
import type { RedisConnection } from '../../../src/queue/index.js';
import { testQueuePrefix, testRedis } from '../../support/redis.js';

const connections: RedisConnection[] = [];
let prefix: string;

beforeAll(() => {
  prefix = testQueuePrefix('limiter');
});
afterAll(() => {
  for (const redis of connections) redis.disconnect();
});

function limiter(overrides: Partial<RedisServerLimiterOptions> = {}): RedisServerLimiter {
  const redis = testRedis();
  connections.push(redis);
  return new RedisServerLimiter({
    redis,
    prefix,
    defaults: { concurrency: 2, ratePerSecond: 10_000 },
    breaker: { failureThreshold: 3, cooldownMs: 60_000 },
    leaseTtlMs: 10_000,
    ...overrides,
  });
}

/** A host of its own per test, so tests share nothing in Redis. */
const freshHost = () => `${randomUUID().slice(0, 8)}.ehr.example`;

function permitOf(admission: Admission): ServerPermit {
  if (!admission.granted) throw new Error(`expected a permit, got ${admission.reason}`);
  return admission.permit;
}

async function until<T>(attempt: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('limits/RedisServerLimiter', () => {
  it('holds a host at its in-flight cap across processes, and a handed-back permit frees a slot', async () => {
    const host = freshHost();
    const [a, b] = [limiter(), limiter()];
    const first = permitOf(await a.acquire(host));
    permitOf(await b.acquire(host));
    const refused = await a.acquire(host);
    expect(refused).toMatchObject({ granted: false, reason: 'in_flight' });
    expect((refused as { waitMs: number }).waitMs).toBeGreaterThan(0);
    await first.release('success');
    expect((await b.acquire(host)).granted).toBe(true);
  });

  it('keeps hosts apart: a full server does not hold back another', async () => {
    const [full, other] = [freshHost(), freshHost()];
    const a = limiter({ defaults: { concurrency: 1, ratePerSecond: 10_000 } });
    permitOf(await a.acquire(full));
    expect((await a.acquire(full)).granted).toBe(false);
    expect((await a.acquire(other)).granted).toBe(true);
  });

  it('applies a per-host override and the defaults elsewhere', async () => {
    const [special, plain] = [freshHost(), freshHost()];
    const a = limiter({ overrides: { [special]: { concurrency: 1 } } });
    expect(a.limitsFor(special)).toEqual({ concurrency: 1, ratePerSecond: 10_000 });
    expect(a.limitsFor(plain)).toEqual({ concurrency: 2, ratePerSecond: 10_000 });
    permitOf(await a.acquire(special));
    expect(await a.acquire(special)).toMatchObject({ granted: false, reason: 'in_flight' });
  });

  it('gives the slot of a permit never handed back (its worker died) to others once its lease ends', async () => {
    const host = freshHost();
    const dyingRedis = testRedis();
    const dying = new RedisServerLimiter({
      redis: dyingRedis,
      prefix,
      defaults: { concurrency: 1, ratePerSecond: 10_000 },
      breaker: { failureThreshold: 3, cooldownMs: 60_000 },
      leaseTtlMs: 300,
    });
    const survivor = limiter({ defaults: { concurrency: 1, ratePerSecond: 10_000 }, leaseTtlMs: 300 });
    permitOf(await dying.acquire(host)); // never released
    // The worker dies: its connection goes, and its renewals with it.
    dyingRedis.disconnect();
    // By Redis's clock, the dead worker's lease ends at most one lease after its death: no renewal
    // can come any more.
    const observer = testRedis();
    connections.push(observer);
    const leases = `${prefix}:limits:server:${host}:leases`;
    const redisNowMs = async () => {
      const [seconds, micros] = await observer.time();
      return Number(seconds) * 1000 + Number(micros) / 1000;
    };
    const [, leaseEnd] = (await observer.zrange(leases, 0, -1, 'WITHSCORES')).map(Number) as [number, number];
    const diedAt = await redisNowMs();
    expect(leaseEnd - diedAt).toBeLessThanOrEqual(300);
    expect((await survivor.acquire(host)).granted).toBe(false);
    const later = await until(async () => {
      const admission = await survivor.acquire(host);
      return admission.granted ? admission : undefined;
    });
    expect(later.granted).toBe(true);
    // The slot came back once that lease had ended, not before.
    expect(await redisNowMs()).toBeGreaterThanOrEqual(leaseEnd);
  });

  it('keeps the slot of a request that runs longer than its lease, renewing it until it is handed back', async () => {
    const host = freshHost();
    const [a, b] = [0, 1].map(() =>
      limiter({ defaults: { concurrency: 1, ratePerSecond: 10_000 }, leaseTtlMs: 300 }),
    ) as [RedisServerLimiter, RedisServerLimiter];
    const running = permitOf(await a.acquire(host));
    // Three leases long: without renewal the slot would have been given away twice over.
    await new Promise((r) => setTimeout(r, 900));
    expect(await b.acquire(host)).toMatchObject({ granted: false, reason: 'in_flight' });
    await running.release('success');
    expect((await b.acquire(host)).granted).toBe(true);
  });

  it('keeps the half-open probe to one while a slow probe runs past its lease', async () => {
    const host = freshHost();
    const settings = {
      defaults: { concurrency: 10, ratePerSecond: 10_000 },
      breaker: { failureThreshold: 1, cooldownMs: 100 },
      leaseTtlMs: 300,
    };
    const [a, b] = [limiter(settings), limiter(settings)];
    await permitOf(await a.acquire(host)).release('transient_failure');
    await new Promise((r) => setTimeout(r, 150));
    const probe = permitOf(await a.acquire(host));
    expect(probe.probe).toBe(true);
    await new Promise((r) => setTimeout(r, 900));
    expect(await b.acquire(host)).toMatchObject({ granted: false, reason: 'breaker_open' });
    await probe.release('success');
    expect((await b.acquire(host)).granted).toBe(true);
  });

  it('books the next rate slot for a caller that claims it, which newcomers then cannot take', async () => {
    const host = freshHost();
    const [waiting, newcomer] = [0, 1].map(() =>
      limiter({ defaults: { concurrency: 10, ratePerSecond: 5 } }),
    ) as [RedisServerLimiter, RedisServerLimiter];
    await permitOf(await waiting.acquire(host)).release('success');
    const claimed = await waiting.acquire(host, { claimRate: true });
    expect(claimed).toMatchObject({ granted: false, reason: 'rate', rateClaimed: true });
    const claimedWait = (claimed as { waitMs: number }).waitMs;
    // The newcomer must wait beyond the booked slot: a whole interval more.
    const refused = await newcomer.acquire(host);
    expect(refused).toMatchObject({ granted: false, reason: 'rate' });
    expect((refused as { waitMs: number }).waitMs).toBeGreaterThan(claimedWait + 150);
    // The claimant comes back for its slot without being asked for the rate again.
    await new Promise((r) => setTimeout(r, claimedWait));
    const granted = await waiting.acquire(host, { claimRate: true, rateClaimed: true });
    expect(granted.granted).toBe(true);
    if (granted.granted) await granted.permit.release('success');
  });

  it('spaces requests at the host rate and names the exact wait', async () => {
    const host = freshHost();
    const a = limiter({ defaults: { concurrency: 10, ratePerSecond: 1 } });
    permitOf(await a.acquire(host));
    const refused = await a.acquire(host);
    expect(refused).toMatchObject({ granted: false, reason: 'rate' });
    const { waitMs } = refused as { waitMs: number };
    expect(waitMs).toBeGreaterThan(0);
    expect(waitMs).toBeLessThanOrEqual(1000);
  });

  it('does not spend the rate on a request refused for want of a slot', async () => {
    const host = freshHost();
    // One request per second: a refusal that spent the rate would leave the next request a second to wait.
    const a = limiter({ defaults: { concurrency: 1, ratePerSecond: 1 } });
    // The slot is taken by a job coming back for the rate slot it had booked, so the rate is still unspent.
    const held = permitOf(await a.acquire(host, { claimRate: true, rateClaimed: true }));
    for (let i = 0; i < 3; i++) {
      expect(await a.acquire(host)).toMatchObject({ granted: false, reason: 'in_flight' });
    }
    await held.release('success');
    // Still the whole rate: the next request goes at once, and it is that request that spends it.
    await permitOf(await a.acquire(host)).release('success');
    expect(await a.acquire(host)).toMatchObject({ granted: false, reason: 'rate' });
  });

  describe('circuit breaker', () => {
    it('opens after the threshold of consecutive transient failures in any process, and tells once', async () => {
      const host = freshHost();
      const transitions: BreakerTransition[] = [];
      const onTransition = (t: BreakerTransition) => transitions.push(t);
      const [a, b] = [limiter({ onTransition }), limiter({ onTransition })];
      const before = await a.countOpenBreakers();
      for (let i = 0; i < 3; i++)
        await permitOf(await (i % 2 ? a : b).acquire(host)).release('transient_failure');
      expect(transitions).toEqual([
        { host, from: 'closed', to: 'open', consecutiveFailures: 3, cooldownMs: 60_000 },
      ]);
      const refused = await b.acquire(host);
      expect(refused).toMatchObject({ granted: false, reason: 'breaker_open' });
      expect((refused as { waitMs: number }).waitMs).toBeGreaterThan(50_000);
      expect(await a.countOpenBreakers()).toBe(before + 1);
    });

    it('counts only consecutive failures: any answer from the server starts the count again', async () => {
      const host = freshHost();
      const a = limiter();
      for (const outcome of [
        'transient_failure',
        'transient_failure',
        'success',
        'transient_failure',
      ] as const) {
        await permitOf(await a.acquire(host)).release(outcome);
      }
      await permitOf(await a.acquire(host)).release('transient_failure');
      expect((await a.acquire(host)).granted).toBe(true);
    });

    it('does not count requests that ended without the server being at fault', async () => {
      const host = freshHost();
      const a = limiter();
      for (let i = 0; i < 5; i++) await permitOf(await a.acquire(host)).release('neutral');
      expect((await a.acquire(host)).granted).toBe(true);
    });

    it('after the cool-down lets exactly one probe through; its failure re-opens, its success closes', async () => {
      const host = freshHost();
      const transitions: string[] = [];
      const options = {
        breaker: { failureThreshold: 1, cooldownMs: 300 },
        onTransition: (t: BreakerTransition) => transitions.push(`${t.from}->${t.to}`),
      };
      const [a, b] = [limiter(options), limiter(options)];
      await permitOf(await a.acquire(host)).release('transient_failure');
      expect(await a.acquire(host)).toMatchObject({ granted: false, reason: 'breaker_open' });

      const probe = await until(async () => {
        const admission = await a.acquire(host);
        return admission.granted ? admission.permit : undefined;
      });
      expect(probe.probe).toBe(true);
      // While the probe is out, everyone else keeps waiting.
      expect(await b.acquire(host)).toMatchObject({ granted: false, reason: 'breaker_open' });
      await probe.release('transient_failure');
      expect(await b.acquire(host)).toMatchObject({ granted: false, reason: 'breaker_open' });

      const second = await until(async () => {
        const admission = await b.acquire(host);
        return admission.granted ? admission.permit : undefined;
      });
      expect(second.probe).toBe(true);
      await second.release('success');
      const after = permitOf(await a.acquire(host));
      expect(after.probe).toBe(false);
      expect(transitions).toEqual([
        'closed->open',
        'open->half_open',
        'half_open->open',
        'open->half_open',
        'half_open->closed',
      ]);
    });

    it('lets the next job probe when a probe ends without an answer either way', async () => {
      const host = freshHost();
      const a = limiter({ breaker: { failureThreshold: 1, cooldownMs: 200 } });
      await permitOf(await a.acquire(host)).release('transient_failure');
      const probe = await until(async () => {
        const admission = await a.acquire(host);
        return admission.granted ? admission.permit : undefined;
      });
      await probe.release('neutral');
      const next = permitOf(await a.acquire(host));
      expect(next.probe).toBe(true);
    });

    it('counts open breakers without naming hosts, and forgets a closed one', async () => {
      const host = freshHost();
      const a = limiter({ breaker: { failureThreshold: 1, cooldownMs: 200 } });
      const before = await a.countOpenBreakers();
      await permitOf(await a.acquire(host)).release('transient_failure');
      expect(await a.countOpenBreakers()).toBe(before + 1);
      const probe = await until(async () => {
        const admission = await a.acquire(host);
        return admission.granted ? admission.permit : undefined;
      });
      await probe.release('success');
      expect(await a.countOpenBreakers()).toBe(before);
    });
  });
});
