// Builds the configured SecretStore (SECRETS_BACKEND), so every process chooses its backend the same way.

import type { Config } from '../config/index.js';
import { AwsSecretStore } from './aws-secret-store.js';
import { FileSecretStore } from './file-secret-store.js';
import type { SecretStore } from './secret-store.js';

export type SecretStoreConfig = Pick<
  Config,
  | 'SECRETS_BACKEND'
  | 'SECRETS_FILE_DIR'
  | 'SECRETS_KMS_KEY_ID'
  | 'AWS_REGION'
  | 'AWS_ENDPOINT_URL_SECRETS_MANAGER'
>;

/** The file backend ignores SECRETS_KMS_KEY_ID and the AWS settings. */
export function createSecretStore(config: SecretStoreConfig): SecretStore {
  if (config.SECRETS_BACKEND === 'aws') {
    return new AwsSecretStore({
      ...(config.AWS_REGION === undefined ? {} : { region: config.AWS_REGION }),
      ...(config.AWS_ENDPOINT_URL_SECRETS_MANAGER === undefined
        ? {}
        : { endpoint: config.AWS_ENDPOINT_URL_SECRETS_MANAGER }),
      ...(config.SECRETS_KMS_KEY_ID === undefined ? {} : { kmsKeyId: config.SECRETS_KMS_KEY_ID }),
    });
  }
  return new FileSecretStore({ rootDir: config.SECRETS_FILE_DIR });
}
