// SECRETS_BACKEND chooses the adapter; building one touches neither the disk nor the network.

import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AwsSecretStore, createSecretStore, FileSecretStore } from '../../../src/secrets/index.js';

const base = {
  SECRETS_FILE_DIR: './.data/secrets',
  SECRETS_KMS_KEY_ID: undefined,
  AWS_REGION: undefined,
  AWS_ENDPOINT_URL_SECRETS_MANAGER: undefined,
} as const;

describe('secrets/createSecretStore', () => {
  it('builds the file store in SECRETS_FILE_DIR when SECRETS_BACKEND is file', async () => {
    const store = createSecretStore({ ...base, SECRETS_BACKEND: 'file' });
    expect(store).toBeInstanceOf(FileSecretStore);
    expect((store as FileSecretStore).rootDir).toBe(resolve('./.data/secrets'));
    await store.close();
  });

  it('builds the AWS store when SECRETS_BACKEND is aws', async () => {
    const store = createSecretStore({
      ...base,
      SECRETS_BACKEND: 'aws',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:4566',
      SECRETS_KMS_KEY_ID: 'alias/dcr',
    });
    expect(store).toBeInstanceOf(AwsSecretStore);
    await store.close();
  });
});
