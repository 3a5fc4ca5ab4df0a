// A seeded pseudo-random source (mulberry32), so that a chaos run's fault decisions can be replayed
// from the seed it prints.

export interface Random {
  readonly seed: number;
  /** A number in [0, 1). */
  next(): number;
  /** One of `choices` by weight, or `otherwise` for the rest of the probability. */
  pick<T>(choices: ReadonlyArray<readonly [T, number]>, otherwise: T): T;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    pick(choices, otherwise) {
      let roll = next();
      for (const [choice, weight] of choices) {
        if (roll < weight) return choice;
        roll -= weight;
      }
      return otherwise;
    },
  };
}

/** CHAOS_SEED when set (to replay a run), else a fresh one. */
export function chaosSeed(): number {
  const given = process.env.CHAOS_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new Error(`CHAOS_SEED must be a whole number, got ${given}`);
    return seed;
  }
  return Math.floor(Math.random() * 2 ** 31);
}
