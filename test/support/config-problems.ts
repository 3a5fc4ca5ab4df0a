// The message of the ConfigError an environment produces; fails the test when it loads.

import { expect } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';

export function configProblems(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}
