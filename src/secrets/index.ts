// Public surface of credential storage: the port, its AWS and file adapters, and the naming rules.
export { AwsSecretStore, type AwsSecretStoreOptions } from './aws-secret-store.js';
export { createSecretStore, type SecretStoreConfig } from './create-secret-store.js';
export { FileSecretStore, type FileSecretStoreOptions } from './file-secret-store.js';
export { MAX_PAGE_SIZE } from './list-options.js';
export {
  assertValidSecretName,
  clientRequestToken,
  INITIAL_ACCESS_TOKEN_SUFFIX,
  initialAccessTokenSecretName,
  MAX_SECRET_NAME_LENGTH,
  registrationSecretName,
  secretNameProblem,
  serverSlug,
} from './secret-name.js';
export type {
  ListOptions,
  MakeCurrentOptions,
  SecretPage,
  SecretStore,
  SecretWrite,
  StoredSecret,
  WrittenVersion,
} from './secret-store.js';
export { MAX_SECRET_VALUE_BYTES } from './validate-secret-write.js';
