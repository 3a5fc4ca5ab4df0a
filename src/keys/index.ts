// Public surface of the key library: client key pairs, public JWK Sets, client assertions. Plain
// protocol code on jose and node built-ins; the worker decides where keys are kept.
export {
  CLIENT_ASSERTION_TYPE,
  type ClientAssertionOptions,
  MAX_CLIENT_ASSERTION_LIFETIME_S,
  signClientAssertion,
} from './client-assertion.js';
export {
  CLIENT_KEY_ALGORITHMS,
  type ClientJwk,
  type ClientKeyAlgorithm,
  type ClientKeyPair,
  generateClientKey,
  isClientKeyAlgorithm,
} from './generate.js';
export {
  hasPrivateMembers,
  PRIVATE_JWK_MEMBERS,
  type PublicJwkSet,
  privateMembersOf,
  publicJwkOf,
  publicJwkSet,
} from './jwks.js';
