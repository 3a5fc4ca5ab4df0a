// Public surface of the registration client: metadata rules and builders, RFC 7591 and RFC 7592 calls.
export {
  checkAuthMethodSupported,
  checkSigningAlgsSupported,
  checkTokenEndpointAuthSupport,
  effectiveAuthMethod,
  type TokenEndpointAuthSupport,
} from './auth-method.js';
export {
  CREDENTIAL_FIELDS,
  processClientInformationResponse,
  type RegisteredClient,
} from './client-information.js';
export {
  AuthMethod,
  type ClientMetadata,
  clientMetadataSchema,
  GrantType,
  type Jwk,
  type Jwks,
  ResponseType,
  RFC7591_DEFAULTS,
} from './metadata.js';
export {
  assertClientMetadata,
  checkClientMetadata,
  invalidMetadataError,
  MAX_METADATA_BYTES,
  type MetadataCheck,
  type MetadataCheckOptions,
  type MetadataIssue,
} from './metadata-rules.js';
export {
  type BackendServicesOptions,
  backendServicesMetadata,
  ClientProfile,
  type ConfidentialAsymmetricOptions,
  type ConfidentialSymmetricOptions,
  confidentialAsymmetricMetadata,
  confidentialSymmetricMetadata,
  type PublicAppOptions,
  type PublicKeys,
  publicAppMetadata,
} from './profiles.js';
export { type RegisterClientOptions, type RegisterClientResult, registerClient } from './register-client.js';
export {
  deleteClient,
  type ManagedClient,
  type ManagementOptions,
  type RegisterOptions,
  readClient,
  register,
  type UpdateOptions,
  updateClient,
  updateRequestBody,
} from './registration.js';
