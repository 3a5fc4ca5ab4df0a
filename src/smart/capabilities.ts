// Questions callers ask of a discovered server. SMART has no capability string for DCR: the presence
// of a registration endpoint is the signal.

import type { SmartConfiguration } from './smart-configuration.js';

export function supportsDynamicRegistration(config: SmartConfiguration): boolean {
  return config.registrationEndpoint !== undefined;
}

/** Undefined lists mean "not advertised", which we treat as "may be supported". */
export function supportsAuthMethod(config: SmartConfiguration, method: string): boolean {
  return config.tokenEndpointAuthMethodsSupported?.includes(method) ?? true;
}

export function supportsPrivateKeyJwt(config: SmartConfiguration): boolean {
  return (
    supportsAuthMethod(config, 'private_key_jwt') ||
    config.capabilities.includes('client-confidential-asymmetric')
  );
}

export function supportsSigningAlgorithm(config: SmartConfiguration, alg: string): boolean {
  return config.tokenEndpointAuthSigningAlgValuesSupported?.includes(alg) ?? true;
}

/** SMART Backend Services: client_credentials with private_key_jwt (RS384 and/or ES384). */
export function supportsBackendServices(config: SmartConfiguration): boolean {
  const grants = config.grantTypesSupported;
  const clientCredentials = grants.length === 0 || grants.includes('client_credentials');
  const algorithm = supportsSigningAlgorithm(config, 'RS384') || supportsSigningAlgorithm(config, 'ES384');
  return clientCredentials && supportsPrivateKeyJwt(config) && algorithm;
}
