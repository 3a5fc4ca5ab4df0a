// Local rules for client metadata, checked before any request so that a job with metadata every server
// would refuse fails at once as invalid_job instead of spending attempts and initial access tokens.
// Rules read the raw input and skip fields of the wrong type (the schema reports those), so one run
// lists every problem. Messages never repeat key material: they are shown to users and stored.

import { isLoopbackHost } from '../config/index.js';
import { formatIssues, ProvisioningError } from '../failures/index.js';
import {
  AuthMethod,
  type ClientMetadata,
  COMPACT_JWS,
  clientMetadataSchema,
  GrantType,
  ResponseType,
  RFC7591_DEFAULTS,
} from './metadata.js';

export interface MetadataIssue {
  /** Where the problem is, from the metadata's root, e.g. `['jwks', 'keys', 0, 'd']`. */
  path: (string | number)[];
  /** What is wrong and what to do about it. */
  message: string;
}

export type MetadataCheck = { ok: true; metadata: ClientMetadata } | { ok: false; issues: MetadataIssue[] };

export interface MetadataCheckOptions {
  /**
   * The client's keys are added later by whoever registers it (a request's `keys.generate`): the
   * metadata itself then carries neither `jwks` nor `jwks_uri`, and `private_key_jwt` without them is
   * not a problem.
   */
  keysAddedLater?: boolean;
  /**
   * ALLOW_INSECURE_LOCALHOST: an http URL to a loopback host passes where https is required (a sandbox
   * publishing keys on 127.0.0.1), as it does for every outbound URL.
   */
  allowInsecureLocalhost?: boolean;
}

/**
 * Room kept in the stored secret for what is not our metadata: client_id and client_secret (usually
 * under 256 bytes each), a registration_access_token (a JWT at some servers, 1–2 KiB), five URLs
 * (registration_client_uri, token_endpoint, issuer, registration_endpoint, fhir_base_url; a few hundred
 * bytes each), dates and numbers (under 200 bytes), and the defaults a server adds to the metadata it
 * returns (about 1 KiB at oidc-provider). That is about 5 KiB; 8 KiB leaves room for longer tokens and URLs.
 */
export const METADATA_RESERVE_BYTES = 8 * 1024;

/**
 * Limit on the serialized metadata, in UTF-8 bytes. The server's answer is stored as one secret, and
 * Secrets Manager takes at most 64 KiB (MAX_SECRET_VALUE_BYTES in src/secrets, which a protocol library
 * does not import; test/unit/dcr/metadata-size-budget.test.ts pins the two together), so metadata over
 * this would be registered, spending the request and a one-shot token, and then fail to store.
 */
export const MAX_METADATA_BYTES = 64 * 1024 - METADATA_RESERVE_BYTES;

type Fields = Readonly<Record<string, unknown>>;
type Rule = (m: Fields, options: MetadataCheckOptions) => MetadataIssue[];

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const quoted = (values: readonly string[]) => values.map((v) => JSON.stringify(v)).join(', ');

// RFC 3986 §4.3 absolute-URI: scheme ":" then URI characters (§2). A regex rather than URL.canParse,
// because the WHATWG parser also takes spaces and other non-URI characters after an unknown scheme.
// "urn:ietf:params:oauth:grant-type:jwt-bearer" and "https://grants.example/custom" pass;
// "client-credentials" (no scheme) and "foo:" (names nothing) do not.
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;

const REGISTERED_GRANT_TYPES: readonly string[] = Object.values(GrantType);
const REGISTERED_AUTH_METHODS: readonly string[] = Object.values(AuthMethod);

/** Why a value is neither a registered name nor an extension URI, with the likely name if it is a near miss. */
function unregisteredName(value: string, registered: readonly string[], what: string): string | undefined {
  if (registered.includes(value) || ABSOLUTE_URI.test(value)) return undefined;
  const names = registered.filter((name) => !ABSOLUTE_URI.test(name));
  const nearMiss = names.find((name) => name === value.trim().toLowerCase().replaceAll('-', '_'));
  const hint = nearMiss === undefined ? '' : ` (did you mean "${nearMiss}"?)`;
  return `${JSON.stringify(value)} is neither a registered ${what}${hint} nor an absolute URI naming an extension; use one of ${quoted(names)}, or the extension's URI`;
}

/** A list field as the server will read it: the RFC default when omitted, `undefined` when ill-typed. */
function effectiveList(
  m: Fields,
  key: 'grant_types' | 'response_types',
): { values: readonly string[]; defaulted: boolean } | undefined {
  const value = m[key];
  if (value === undefined) return { values: RFC7591_DEFAULTS[key], defaulted: true };
  if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
    return { values: value, defaulted: false };
  return undefined;
}

const jwksAndJwksUri: Rule = (m) =>
  m.jwks !== undefined && m.jwks_uri !== undefined
    ? [
        {
          path: ['jwks'],
          message:
            'must not be sent together with jwks_uri (RFC 7591 §2); keep jwks_uri (preferred by SMART) and drop jwks, or drop jwks_uri',
        },
      ]
    : [];

// Members that carry private or secret key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

// Public members each asymmetric key type needs to be usable (RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2).
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['n', 'e'],
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
};

const PUBLIC_ONLY_HINT = 'register only the public key (RSA: kty, kid, n, e; EC: kty, kid, crv, x, y)';

const jwksPublicKeys: Rule = (m) => {
  const jwks = m.jwks;
  if (!isRecord(jwks) || !Array.isArray(jwks.keys)) return [];
  if (jwks.keys.length === 0) {
    return [
      {
        path: ['jwks', 'keys'],
        message: "must hold at least one key; add the client's public signing key, or use jwks_uri instead",
      },
    ];
  }
  const issues: MetadataIssue[] = [];
  jwks.keys.forEach((key: unknown, index) => {
    if (!isRecord(key)) return;
    const at = (member: string) => ['jwks', 'keys', index, member];
    for (const member of PRIVATE_MEMBERS) {
      if (key[member] === undefined) continue;
      issues.push({
        path: at(member),
        message:
          member === 'k'
            ? 'is a symmetric secret and must never be registered; use an RSA or EC key pair and register its public key'
            : `is private key material and must never be sent; ${PUBLIC_ONLY_HINT}`,
      });
    }
    if (typeof key.kty !== 'string') return;
    const required = PUBLIC_MEMBERS[key.kty];
    if (key.kty === 'oct') {
      issues.push({
        path: at('kty'),
        message:
          '"oct" keys are shared secrets, not public keys; use an RSA or EC key pair and register its public key',
      });
    } else if (required === undefined) {
      issues.push({ path: at('kty'), message: 'must be "RSA" or "EC" (or "OKP"), the asymmetric key types' });
    } else {
      for (const member of required) {
        if (key[member] === undefined) {
          issues.push({
            path: at(member),
            message: `is missing: a public ${key.kty} key needs ${required.join(', ')}`,
          });
        }
      }
    }
  });
  return issues;
};

const privateKeyJwtNeedsKeys: Rule = (m, options) =>
  m.token_endpoint_auth_method === 'private_key_jwt' &&
  m.jwks === undefined &&
  m.jwks_uri === undefined &&
  !options.keysAddedLater
    ? [
        {
          path: ['token_endpoint_auth_method'],
          message:
            '"private_key_jwt" needs the client\'s public keys for verifying its assertions; add jwks_uri (preferred) or jwks',
        },
      ]
    : [];

// RFC 7591 §2: grant types are the registered names or absolute URIs; a server refuses anything else.
const grantTypeNames: Rule = (m) => {
  if (!Array.isArray(m.grant_types)) return [];
  return m.grant_types.flatMap((grant: unknown, index) => {
    const problem =
      typeof grant === 'string' ? unregisteredName(grant, REGISTERED_GRANT_TYPES, 'grant type') : undefined;
    return problem === undefined
      ? []
      : [
          {
            path: ['grant_types', index],
            message: `${problem} such as "urn:ietf:params:oauth:grant-type:jwt-bearer"`,
          },
        ];
  });
};

// RFC 7591 §2: methods come from the IANA registry; an absolute URI is taken as a private extension.
// An empty string is the schema's to report.
const authMethodName: Rule = (m) => {
  const method = m.token_endpoint_auth_method;
  if (typeof method !== 'string' || method === '') return [];
  const problem = unregisteredName(method, REGISTERED_AUTH_METHODS, 'token endpoint authentication method');
  return problem === undefined
    ? []
    : [
        {
          path: ['token_endpoint_auth_method'],
          message: `${problem}; SMART Backend Services use "private_key_jwt", public apps "none"`,
        },
      ];
};

// RFC 6749 §4.4: "The client credentials grant type MUST only be used by confidential clients".
const clientCredentialsNeedsConfidentialClient: Rule = (m) => {
  if (m.token_endpoint_auth_method !== AuthMethod.None || !Array.isArray(m.grant_types)) return [];
  const index = m.grant_types.indexOf(GrantType.ClientCredentials);
  return index < 0
    ? []
    : [
        {
          path: ['grant_types', index],
          message:
            '"client_credentials" is only for confidential clients (RFC 6749 §4.4), but token_endpoint_auth_method is "none"; for a backend service use "private_key_jwt" with jwks_uri (SMART Backend Services), or remove "client_credentials" from a public app',
        },
      ];
};

const grantTypesNotEmpty: Rule = (m) =>
  Array.isArray(m.grant_types) && m.grant_types.length === 0
    ? [
        {
          path: ['grant_types'],
          message:
            'must list at least one grant type (an empty list cancels the registration on UDAP servers); omit it for the default ["authorization_code"] or list the grants the client uses',
        },
      ]
    : [];

// RFC 7591 §2.1: the grants that pair with a response type. OpenID Connect's "id_token" pairs with
// implicit; combined response types such as "code id_token" need every grant of their parts.
const GRANT_FOR_RESPONSE: Readonly<Record<string, string>> = {
  code: GrantType.AuthorizationCode,
  token: GrantType.Implicit,
  id_token: GrantType.Implicit,
};
const RESPONSE_FOR_GRANT: Readonly<Record<string, string>> = {
  [GrantType.AuthorizationCode]: ResponseType.Code,
  [GrantType.Implicit]: ResponseType.Token,
};
const REDIRECT_GRANTS: readonly string[] = [GrantType.AuthorizationCode, GrantType.Implicit];

const grantResponseConsistency: Rule = (m) => {
  const grants = effectiveList(m, 'grant_types');
  const responses = effectiveList(m, 'response_types');
  if (grants === undefined || responses === undefined || grants.values.length === 0) return [];
  const issues: MetadataIssue[] = [];
  const responseParts = (r: string) => r.split(' ').filter(Boolean);
  const hasResponseFor = (grant: string) =>
    responses.values.some((r) => responseParts(r).some((part) => GRANT_FOR_RESPONSE[part] === grant));

  grants.values.forEach((grant, index) => {
    const response = RESPONSE_FOR_GRANT[grant];
    if (response === undefined || hasResponseFor(grant)) return;
    issues.push(
      grants.defaulted
        ? {
            path: ['grant_types'],
            message: `is omitted and defaults to ["${grant}"], which needs "${response}" in response_types (RFC 7591 §2.1); set grant_types to the grants the client uses (e.g. ["client_credentials"]) or add "${response}" to response_types`,
          }
        : {
            path: ['grant_types', index],
            message: `"${grant}" needs "${response}" in response_types (RFC 7591 §2.1); add "${response}" to response_types or remove "${grant}"`,
          },
    );
  });

  responses.values.forEach((response, index) => {
    for (const part of responseParts(response)) {
      const grant = GRANT_FOR_RESPONSE[part];
      if (grant === undefined || grants.values.includes(grant)) continue;
      issues.push(
        responses.defaulted
          ? {
              path: ['response_types'],
              message: `is omitted and defaults to ["${part}"], which needs the "${grant}" grant; a client using only ${quoted(grants.values)} must send "response_types": [] explicitly (servers such as oidc-provider otherwise assume "code" and demand redirect_uris)`,
            }
          : {
              path: ['response_types', index],
              message: `"${part}" needs the "${grant}" grant (RFC 7591 §2.1); add "${grant}" to grant_types or remove "${response}" from response_types`,
            },
      );
    }
  });
  return issues;
};

const redirectUrisForRedirectGrants: Rule = (m) => {
  const grants = effectiveList(m, 'grant_types');
  const grant = grants?.values.find((g) => REDIRECT_GRANTS.includes(g));
  if (grants === undefined || grant === undefined) return [];
  const uris = m.redirect_uris;
  if (uris !== undefined && !(Array.isArray(uris) && uris.length === 0)) return [];
  const because = grants.defaulted
    ? 'grant_types is omitted and defaults to ["authorization_code"]'
    : `grant_types includes "${grant}"`;
  return [
    {
      path: ['redirect_uris'],
      message: `must list at least one redirect URI because ${because}; add the app's callback URL, or for a backend service set grant_types to ["client_credentials"] and response_types to []`,
    },
  ];
};

// RFC 8252 §7.3: loopback redirects for native apps; the WHATWG URL parser normalises the host forms.
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const REDIRECT_ALTERNATIVES =
  'use https, http to a loopback host (127.0.0.1, [::1], localhost; RFC 8252 §7.3) or a reverse-domain private-use scheme such as com.example.app:/callback (RFC 8252 §7.1)';

/** Everything wrong with one redirect URI; several problems can apply to the same URI. */
export function redirectUriProblems(uri: string): string[] {
  const problems: string[] = [];
  if (uri.includes('#'))
    problems.push('must not contain a fragment (RFC 6749 §3.1.2); remove the "#..." part');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return [...problems, 'must be an absolute URI such as https://app.example.com/callback'];
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (scheme === 'https') return problems;
  if (scheme === 'http') {
    if (!LOOPBACK_HOSTS.has(url.hostname)) {
      problems.push(
        `uses http to the non-loopback host ${url.hostname}; use https, or http only to 127.0.0.1, [::1] or localhost (RFC 8252 §7.3)`,
      );
    }
    return problems;
  }
  if (!scheme.includes('.')) {
    problems.push(
      `uses the "${scheme}:" scheme, which is not an acceptable redirect target; ${REDIRECT_ALTERNATIVES}`,
    );
    return problems;
  }
  // Private-use schemes have no naming authority, so exactly one slash follows the scheme (RFC 8252 §7.1).
  const rest = uri.slice(scheme.length + 1);
  if (!rest.startsWith('/') || rest.startsWith('//')) {
    problems.push(
      `is not in the private-use form ${scheme}:/path (one slash after the scheme, RFC 8252 §7.1); if it is a web address, it needs https://`,
    );
  }
  return problems;
}

const redirectUriForm: Rule = (m) => {
  if (!Array.isArray(m.redirect_uris)) return [];
  return m.redirect_uris.flatMap((uri: unknown, index) =>
    typeof uri === 'string'
      ? redirectUriProblems(uri).map((message) => ({ path: ['redirect_uris', index], message }))
      : [],
  );
};

const HTTPS_URL_FIELDS = ['jwks_uri', 'client_uri', 'logo_uri', 'tos_uri', 'policy_uri'] as const;

const httpsUrls: Rule = (m, options) =>
  HTTPS_URL_FIELDS.flatMap((field) => {
    const value = m[field];
    if (typeof value !== 'string') return [];
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (url?.protocol === 'https:') return [];
    if (url?.protocol === 'http:' && options.allowInsecureLocalhost && isLoopbackHost(url.hostname))
      return [];
    const problem = url === undefined ? 'is not an absolute URL' : `uses ${url.protocol.slice(0, -1)}`;
    return [
      {
        path: [field],
        message: `${problem}; it must be an absolute https URL, e.g. https://app.example.com/`,
      },
    ];
  });

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), tokens separated by single spaces.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

const scopeTokens: Rule = (m) => {
  if (typeof m.scope !== 'string') return [];
  const tokens = m.scope.split(' ');
  if (tokens.every((t) => SCOPE_TOKEN.test(t))) return [];
  return [
    {
      path: ['scope'],
      message:
        'must be scope tokens separated by single spaces, e.g. "system/Patient.rs system/Observation.rs", with no leading, trailing or repeated spaces and no quotes, backslashes or control characters; omit scope instead of sending an empty one',
    },
  ];
};

function decodeJsonSegment(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

// The schema checks the compact shape; the claims that servers need are checked here without echoing them.
const softwareStatementClaims: Rule = (m) => {
  if (typeof m.software_statement !== 'string' || !COMPACT_JWS.test(m.software_statement)) return [];
  const [header = '', payload = ''] = m.software_statement.split('.');
  const path = ['software_statement'];
  const decodedHeader = decodeJsonSegment(header);
  const decodedPayload = decodeJsonSegment(payload);
  const issues: MetadataIssue[] = [];
  if (!isRecord(decodedHeader) || typeof decodedHeader.alg !== 'string' || decodedHeader.alg === 'none') {
    issues.push({
      path,
      message:
        'has no usable JOSE header (base64url JSON with a signing "alg" other than "none"); sign the statement',
    });
  }
  if (!isRecord(decodedPayload) || typeof decodedPayload.iss !== 'string') {
    issues.push({
      path,
      message: 'needs a JSON payload with an "iss" claim naming the statement\'s issuer (RFC 7591 §2.3)',
    });
  }
  return issues;
};

const serializedSize: Rule = (m) => {
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(m), 'utf8');
  } catch {
    return [{ path: [], message: 'cannot be serialized as JSON; send plain JSON values only' }];
  }
  return bytes > MAX_METADATA_BYTES
    ? [
        {
          path: [],
          message: `serializes to ${bytes} bytes, more than the ${MAX_METADATA_BYTES}-byte (${MAX_METADATA_BYTES / 1024} KiB) limit that leaves room for the issued credentials in the stored secret (at most 64 KiB); register keys by jwks_uri instead of inline jwks and drop bulky extension fields`,
        },
      ]
    : [];
};

// Credentials the server issues, never the client: in a request they can only be a mistake, and
// metadata is queued in Redis, where no secret may go.
const CREDENTIAL_FIELDS = ['client_secret', 'registration_access_token', 'initial_access_token'] as const;

const noCredentials: Rule = (m) =>
  CREDENTIAL_FIELDS.filter((field) => m[field] !== undefined).map((field) => ({
    path: [field],
    message:
      field === 'initial_access_token'
        ? 'must not be part of the metadata; pass the initial access token as initialAccessToken instead'
        : 'is issued by the server and must not be sent; remove it',
  }));

const RULES: readonly Rule[] = [
  noCredentials,
  jwksAndJwksUri,
  jwksPublicKeys,
  privateKeyJwtNeedsKeys,
  authMethodName,
  grantTypesNotEmpty,
  grantTypeNames,
  clientCredentialsNeedsConfidentialClient,
  grantResponseConsistency,
  redirectUrisForRedirectGrants,
  redirectUriForm,
  httpsUrls,
  scopeTokens,
  softwareStatementClaims,
  serializedSize,
];

const toPath = (path: readonly PropertyKey[]): (string | number)[] =>
  path.map((key) => (typeof key === 'symbol' ? String(key) : key));

/** Checks client metadata against its schema and every local rule, listing all problems found. */
export function checkClientMetadata(input: unknown, options: MetadataCheckOptions = {}): MetadataCheck {
  const parsed = clientMetadataSchema.safeParse(input);
  const issues: MetadataIssue[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({ path: toPath(issue.path), message: issue.message }));
  if (isRecord(input)) issues.push(...RULES.flatMap((rule) => rule(input, options)));
  if (parsed.success && issues.length === 0) return { ok: true, metadata: parsed.data };
  return { ok: false, issues };
}

/** The error every metadata check raises, so jobs, builders and callers see one format. */
export function invalidMetadataError(issues: readonly MetadataIssue[]): ProvisioningError {
  return new ProvisioningError('invalid_job', formatIssues(issues));
}

/** Returns the checked metadata, or throws ProvisioningError `invalid_job` naming every problem. */
export function assertClientMetadata(input: unknown, options: MetadataCheckOptions = {}): ClientMetadata {
  const result = checkClientMetadata(input, options);
  if (!result.ok) throw invalidMetadataError(result.issues);
  return result.metadata;
}
