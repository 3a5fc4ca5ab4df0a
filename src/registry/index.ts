// Public surface of the registry of managed registrations.
export {
  type RegistrationRecord,
  RegistrationRegistry,
  type RegistrationRegistryOptions,
} from './registration-registry.js';
