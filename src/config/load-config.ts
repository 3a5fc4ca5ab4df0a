// Reads the configuration once from the environment and fails fast, naming every bad variable.

import { type Config, configSchema, SECRET_VARIABLES } from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * Every URL's user name and password masked — REDIS_URL may list several, each with a password — so
 * none appears in an error or a log line.
 */
export function withoutUserinfo(value: string): string {
  return value.replace(/([a-z][a-z0-9+.-]*:\/\/)[^@/,\s]*@/gi, '$1***@');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(configSchema.shape)
      .filter((key) => env[key] !== undefined)
      .map((key) => [key, env[key]]),
  );
  const result = configSchema.safeParse(known);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(configuration)');
      const raw = env[variable];
      const shown =
        raw === undefined || SECRET_VARIABLES.has(variable)
          ? ''
          : ` (got ${JSON.stringify(withoutUserinfo(raw))})`;
      return `${variable} ${issue.message}${shown}`;
    });
    throw new ConfigError(problems);
  }
  return Object.freeze({
    ...result.data,
    ALLOWED_PRIVATE_HOSTS: Object.freeze([...result.data.ALLOWED_PRIVATE_HOSTS]),
  }) as Config;
}
