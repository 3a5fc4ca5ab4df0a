// Public surface of the registry of managed registrations.
export {
  type DueQuery,
  type DueRegistration,
  type RegistrationRecord,
  RegistrationRegistry,
  type RegistrationRegistryOptions,
  type StoredFacts,
} from './registration-registry.js';
