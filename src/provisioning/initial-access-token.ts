// Reads an initial access token from the secret store. The secret may hold the token as plain text or
// as JSON `{"initial_access_token": "..."}`; the value never leaves this process.

import { ProvisioningError } from '../failures/index.js';
import type { SecretStore } from '../secrets/index.js';

export async function resolveInitialAccessToken(store: SecretStore, secretId: string): Promise<string> {
  const secret = await store.readCurrent(secretId);
  if (!secret) {
    throw new ProvisioningError('invalid_job', `initialAccessToken.secretId names no secret (${secretId})`);
  }
  const text = secret.value.trim();
  if (text.startsWith('{')) {
    try {
      const token = (JSON.parse(text) as Record<string, unknown>).initial_access_token;
      if (typeof token === 'string' && token !== '') return token;
    } catch {
      // Not JSON after all: treat as the token itself.
    }
    throw new ProvisioningError(
      'invalid_job',
      `secret ${secretId} holds JSON without a string initial_access_token field`,
    );
  }
  if (text === '') throw new ProvisioningError('invalid_job', `secret ${secretId} is empty`);
  return text;
}
