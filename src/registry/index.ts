// Public surface of the registry of managed registrations.

export { PublishedKeys, type PublishedKeysOptions } from './published-keys.js';
export {
  type DueQuery,
  type DueRegistration,
  type RegistrationRecord,
  RegistrationRegistry,
  type RegistrationRegistryOptions,
  type StoredFacts,
} from './registration-registry.js';
