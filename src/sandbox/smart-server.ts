// A real oidc-provider 9 authorization server dressed as a SMART on FHIR 2.2 server: the sandbox of
// `dcr-provisioner demo` and `dcr-provisioner sandbox`, and the peer integration tests register
// (RFC 7591) and manage (RFC 7592) clients against — a server we did not write. Loopback only.
//
// What oidc-provider 9 accepts or refuses, as configured here (tests must respect it):
// - Public apps: `token_endpoint_auth_method: none`, `redirect_uris` required whenever
//   `response_types` is non-empty (the default is `["code"]`). With the default `application_type`
//   "web", `http://127.0.0.1/cb` and `https://...` redirect URIs are both accepted; only the implicit
//   grant (not offered here) forces https.
// - Backend services must send `"response_types": []` (and may omit `redirect_uris`), otherwise the
//   default `["code"]` makes `redirect_uris` mandatory and the request fails with
//   `invalid_redirect_uri`.
// - `private_key_jwt` needs `jwks` or `jwks_uri` (not both); keys with private members are refused.
// - Every requested `scope` value must be one of `SMART_SCOPES`, or registration fails.
// - Unknown metadata is dropped silently; `software_id`, `software_version` and `software_statement`
//   are kept (and echoed). A `software_statement` is only checked for shape (a JWS whose payload has
//   `iss`), never for its signature.
// - RFC 7592: GET returns the same registration access token; PUT rotates it (unless
//   `rotateRegistrationAccessToken: false`), requires `client_id` and refuses
//   `registration_access_token`, `registration_client_uri`, `client_secret_expires_at` and
//   `client_id_issued_at`; PUT never issues a new client secret (unless `updateRotatesSecret`).
// - The provider fetches a client's `jwks_uri` only when it verifies a client assertion; the fixture
//   lets it reach loopback addresses, which oidc-provider's SSRF guard would otherwise refuse.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  createServer,
  get as httpGet,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Adapter, AdapterPayload, Configuration, KoaContext, Provider } from 'oidc-provider';

/** Scopes the server knows; a registration asking for anything else is refused. */
export const SMART_SCOPES = [
  'openid',
  'fhirUser',
  'offline_access',
  'online_access',
  'launch',
  'launch/patient',
  'patient/*.rs',
  'patient/*.read',
  'patient/Patient.rs',
  'patient/Observation.rs',
  'user/*.rs',
  'user/*.cruds',
  'system/*.rs',
  'system/*.read',
  'system/Patient.rs',
  'system/Observation.rs',
] as const;

const SMART_CAPABILITIES = [
  'launch-standalone',
  'client-public',
  'client-confidential-symmetric',
  'client-confidential-asymmetric',
  'permission-v2',
  'permission-offline',
  'sso-openid-connect',
  'context-standalone-patient',
] as const;

const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

export interface SmartServerOptions {
  /** Port on 127.0.0.1. @defaultValue 0 (any free port) */
  port?: number;
  /**
   * Requires an initial access token (`Authorization: Bearer`) on registration: a fixed string, or
   * `true` for tokens minted by {@link SmartServer.issueInitialAccessToken}.
   * @defaultValue open registration
   */
  initialAccessToken?: string | true;
  /**
   * Issued client secrets expire this many seconds after registration (`client_secret_expires_at`
   * = now + N); the provider then refuses the secret at the token endpoint once it has expired,
   * after its 15 s clock tolerance (so an already expired secret needs N < -15, e.g. -60).
   * oidc-provider runs registration policies only for adapter-backed initial access tokens and
   * otherwise always answers `0`, so the fixture sets the value after the provider answered (POST
   * and PUT) and writes it to the stored client.
   * @defaultValue secrets never expire (`client_secret_expires_at: 0`)
   */
  secretExpiresInSeconds?: number;
  /**
   * RFC 7592: every successful PUT issues a new `client_secret` (with a fresh expiry when
   * `secretExpiresInSeconds` is set), as servers that rotate secrets on update do. oidc-provider
   * itself keeps the secret, so the fixture replaces it after the provider answered.
   * @defaultValue false (oidc-provider's behaviour: the secret survives an update)
   */
  updateRotatesSecret?: boolean;
  /**
   * oidc-provider registration policies by name, run for registrations made with an initial access
   * token that names them (`issueInitialAccessToken({ policies })`) — the provider's own mechanism, as
   * opposed to `secretExpiresInSeconds`, which rewrites answers to open registrations.
   */
  registrationPolicies?: Record<string, RegistrationPolicy>;
  /** RFC 7592: a new registration access token on every PUT. @defaultValue true */
  rotateRegistrationAccessToken?: boolean;
  /** RFC 7592 PUT and DELETE; GET on the client URI is always served. @defaultValue true */
  registrationManagement?: boolean;
  /** Rewrites `/.well-known/smart-configuration` (drop or break fields for tolerance tests). */
  smartConfiguration?: (document: Record<string, unknown>) => unknown;
  /**
   * Serves `/.well-known/smart-configuration`; `false` makes a SMART 1.0 server, whose endpoints only
   * the CapabilityStatement's `oauth-uris` extension names (the well-known document answers 404).
   * @defaultValue true
   */
  wellKnown?: boolean;
  /** Rewrites the CapabilityStatement served at `/fhir/metadata`. */
  capabilityStatement?: (document: Record<string, unknown>) => unknown;
}

/** One request to `/reg` or `/reg/:clientId`, as received and as answered. */
export interface RegistrationRequestRecord {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The JSON body oidc-provider parsed; `undefined` when there was none or it did not parse. */
  body: Record<string, unknown> | undefined;
  /** `Date.now()` when the request reached the provider. */
  receivedAt: number;
  /** Filled in once the provider answered. */
  status?: number;
  response?: unknown;
}

export interface SmartServerStats {
  /** `POST /reg` requests received, successful or not. */
  registrationPosts: number;
  /** RFC 7592 `GET /reg/:clientId` requests received. */
  managementGets: number;
  /** RFC 7592 `PUT /reg/:clientId` requests received. */
  managementPuts: number;
  /** RFC 7592 `DELETE /reg/:clientId` requests received. */
  managementDeletes: number;
  /** Clients registered and not deleted. */
  liveClientCount(): number;
  /** The ids of those clients. */
  liveClientIds(): string[];
  /** The stored metadata of a live client (including its `client_secret`), or `undefined`. */
  getClient(clientId: string): Record<string, unknown> | undefined;
}

export interface InitialAccessTokenOptions {
  /** Destroyed after the first successful registration, like Epic's. @defaultValue true */
  singleUse?: boolean;
  /** @defaultValue no expiry */
  expiresInSeconds?: number;
  /**
   * Names of `registrationPolicies` to run on the registration this token makes, and on every RFC 7592
   * update of that client (oidc-provider hands them on to its registration access token).
   */
  policies?: string[];
}

/**
 * An oidc-provider registration policy: it may change the client's properties before they are stored
 * (e.g. `client_secret_expires_at`). On an update `ctx.oidc.client` is the client being updated.
 */
export type RegistrationPolicy = (
  ctx: KoaContext & { oidc?: { client?: unknown } },
  properties: Record<string, unknown>,
) => void | Promise<void>;

export interface SmartServer {
  /** `http://127.0.0.1:<port>`, oidc-provider's issuer. */
  readonly issuer: string;
  /** `http://127.0.0.1:<port>/fhir` */
  readonly fhirBaseUrl: string;
  /** `http://127.0.0.1:<port>/reg` */
  readonly registrationEndpoint: string;
  /** Absolute URL on this server, e.g. `url('/fhir/metadata')`. */
  url(path: string): string;
  readonly stats: SmartServerStats;
  /** Every request to `/reg` and `/reg/:clientId`, in arrival order. */
  readonly registrationRequests: readonly RegistrationRequestRecord[];
  /** The most recent `POST /reg`. */
  readonly lastRegistrationRequest: RegistrationRequestRecord | undefined;
  /**
   * A token for `Authorization: Bearer` on registration: a new adapter-backed one when
   * `initialAccessToken: true`, the fixed string when one was configured.
   */
  issueInitialAccessToken(options?: InitialAccessTokenOptions): Promise<string>;
  /** The oidc-provider instance, for what the fixture does not wrap. */
  readonly provider: Provider;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

export async function startSmartServer(options: SmartServerOptions = {}): Promise<SmartServer> {
  const { default: ProviderClass, errors } = await loadOidcProvider();
  const store = new Map<string, StoredEntry>();
  const registrationRequests: RegistrationRequestRecord[] = [];
  const singleUseTokens = new Set<string>();
  const stats: SmartServerStats = {
    registrationPosts: 0,
    managementGets: 0,
    managementPuts: 0,
    managementDeletes: 0,
    liveClientCount: () => liveEntries(store, 'Client').length,
    liveClientIds: () => liveEntries(store, 'Client').map((entry) => String(entry.payload.client_id)),
    getClient: (clientId) => {
      const entry = readEntry(store, `Client:${clientId}`);
      return entry ? structuredClone(entry.payload) : undefined;
    },
  };

  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(503).end();
  };
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = (path: string): string => new URL(path, `${issuer}/`).href;
  const fhirBaseUrl = url('/fhir');

  // Nothing may keep the port open when setting up fails, or vitest never exits.
  try {
    const configuration: Configuration = {
      adapter: (model: string) => new MapAdapter(model, store),
      jwks: { keys: [providerSigningJwk()] },
      scopes: [...SMART_SCOPES],
      claims: { openid: ['sub'], fhirUser: ['fhirUser'] },
      responseTypes: ['code'],
      clientAuthMethods: ['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none'],
      enabledJWA: { clientAuthSigningAlgValues: ['RS384', 'ES384', 'RS256', 'ES256'] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        revocation: { enabled: true },
        registration: {
          enabled: true,
          initialAccessToken: options.initialAccessToken ?? false,
          ...(options.registrationPolicies ? { policies: options.registrationPolicies } : {}),
        },
        registrationManagement: {
          enabled: options.registrationManagement ?? true,
          rotateRegistrationAccessToken: options.rotateRegistrationAccessToken ?? true,
        },
      },
      extraClientMetadata: {
        properties: ['software_id', 'software_version', 'software_statement'],
        validator: (_ctx: unknown, key: string, value: unknown) => {
          if (value === undefined) return;
          if (typeof value !== 'string') throw new errors.InvalidClientMetadata(`${key} must be a string`);
          if (key === 'software_statement' && !looksLikeSoftwareStatement(value)) {
            throw new errors.InvalidSoftwareStatement('software_statement must be a JWS with an iss claim');
          }
        },
      },
      // Fixed lifetimes and trivial hooks: oidc-provider prints a notice for each default it calls.
      ttl: {
        AccessToken: 300,
        AuthorizationCode: 60,
        ClientCredentials: 300,
        Grant: 3600,
        IdToken: 300,
        Interaction: 600,
        RefreshToken: 3600,
        Session: 3600,
      },
      clientBasedCORS: () => false,
      findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
      renderError: (ctx: KoaContext, out: Record<string, unknown>) => {
        ctx.body = out;
      },
      // oidc-provider's SSRF guard refuses loopback jwks_uri hosts; every test peer is loopback.
      fetch: (target: string, init: RequestInit & { dispatcher?: unknown }) => {
        const { dispatcher: _guard, ...rest } = init;
        return fetch(target, rest);
      },
    };

    const provider = new ProviderClass(issuer, configuration);

    provider.use(async (ctx, next) => {
      const isRegistration = ctx.path === '/reg';
      if (!isRegistration && !ctx.path.startsWith('/reg/')) return next();
      if (isRegistration && ctx.method === 'POST') stats.registrationPosts++;
      if (!isRegistration && ctx.method === 'GET') stats.managementGets++;
      if (!isRegistration && ctx.method === 'PUT') stats.managementPuts++;
      if (!isRegistration && ctx.method === 'DELETE') stats.managementDeletes++;
      const record: RegistrationRequestRecord = {
        method: ctx.method,
        path: ctx.path,
        headers: { ...ctx.headers },
        body: undefined,
        receivedAt: Date.now(),
      };
      registrationRequests.push(record);

      await next();

      record.body = ctx.oidc?.body;
      const succeeded =
        (ctx.method === 'POST' && ctx.status === 201) || (ctx.method === 'PUT' && ctx.status === 200);
      if (ctx.method === 'PUT' && succeeded && options.updateRotatesSecret && isObject(ctx.body)) {
        rotateSecret(store, ctx.body, options.secretExpiresInSeconds);
      }
      if (succeeded && options.secretExpiresInSeconds !== undefined && isObject(ctx.body)) {
        applySecretExpiry(store, ctx.body, options.secretExpiresInSeconds);
      }
      const presented = bearerToken(ctx.headers.authorization);
      if (ctx.method === 'POST' && ctx.status === 201 && presented && singleUseTokens.delete(presented)) {
        await ctx.oidc?.entities.InitialAccessToken?.destroy();
      }
      record.status = ctx.status;
      record.response = structuredClone(ctx.body);
    });

    const providerCallback = provider.callback();
    let smartConfiguration: Record<string, unknown> = {};
    let capabilityStatement: Record<string, unknown> = {};

    handle = (req, res) => {
      const path = new URL(req.url ?? '/', issuer).pathname;
      if (path !== '/fhir' && !path.startsWith('/fhir/')) {
        providerCallback(req, res);
        return;
      }
      if (
        req.method === 'GET' &&
        path === '/fhir/.well-known/smart-configuration' &&
        options.wellKnown !== false
      ) {
        const body = options.smartConfiguration?.(structuredClone(smartConfiguration)) ?? smartConfiguration;
        sendJson(res, 200, 'application/json', body);
      } else if (req.method === 'GET' && path === '/fhir/metadata') {
        const body =
          options.capabilityStatement?.(structuredClone(capabilityStatement)) ?? capabilityStatement;
        sendJson(res, 200, 'application/fhir+json', body);
      } else {
        sendJson(res, 404, 'application/fhir+json', {
          resourceType: 'OperationOutcome',
          issue: [
            { severity: 'error', code: 'not-found', diagnostics: `no route for ${req.method} ${path}` },
          ],
        });
      }
    };

    smartConfiguration = buildSmartConfiguration(await getJson(url('/.well-known/openid-configuration')));
    capabilityStatement = buildCapabilityStatement(smartConfiguration);

    let closing: Promise<void> | undefined;
    return {
      issuer,
      fhirBaseUrl,
      registrationEndpoint: url('/reg'),
      url,
      stats,
      registrationRequests,
      get lastRegistrationRequest() {
        return registrationRequests.findLast((r) => r.method === 'POST' && r.path === '/reg');
      },
      async issueInitialAccessToken(tokenOptions = {}) {
        if (typeof options.initialAccessToken === 'string') return options.initialAccessToken;
        if (options.initialAccessToken !== true) {
          throw new Error('issueInitialAccessToken needs startSmartServer({ initialAccessToken: true })');
        }
        const token = await new provider.InitialAccessToken({
          ...(tokenOptions.expiresInSeconds === undefined
            ? {}
            : { expiresIn: tokenOptions.expiresInSeconds }),
          ...(tokenOptions.policies ? { policies: tokenOptions.policies } : {}),
        }).save();
        if (tokenOptions.singleUse ?? true) singleUseTokens.add(token);
        return token;
      },
      provider,
      close() {
        closing ??= new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        return closing;
      },
    };
  } catch (err) {
    server.closeAllConnections();
    server.close();
    throw err;
  }
}

type OidcProviderModule = typeof import('oidc-provider');
let oidcProviderModule: Promise<OidcProviderModule> | undefined;

/**
 * oidc-provider 9 warns once, at import, that Node 20 is not a supported runtime; it runs fine on
 * Node 20 (REFERENCE.md). Only that one line is dropped; every other warning still reaches stderr.
 */
function loadOidcProvider(): Promise<OidcProviderModule> {
  oidcProviderModule ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime'))
        return;
      warn.apply(console, args);
    };
    try {
      return await import('oidc-provider');
    } finally {
      console.warn = warn;
    }
  })();
  return oidcProviderModule;
}

let signingJwk: Record<string, unknown> | undefined;

/** The provider's own ID token signing key, made once per process and never written anywhere. */
function providerSigningJwk(): Record<string, unknown> {
  signingJwk ??= {
    ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
    kid: 'smart-fixture-signing',
    use: 'sig',
    alg: 'RS256',
  };
  return signingJwk;
}

/**
 * The provider's own discovery document, read over loopback (without connection reuse, so nothing
 * outlives `close()`) so that the SMART document reflects its real configuration.
 */
function getJson(target: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    httpGet(target, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${target} answered ${res.statusCode}`));
          return;
        }
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      });
    }).on('error', reject);
  });
}

function buildSmartConfiguration(metadata: Record<string, unknown>): Record<string, unknown> {
  const pick = (...names: string[]) =>
    Object.fromEntries(names.filter((n) => metadata[n] !== undefined).map((n) => [n, metadata[n]]));
  return {
    ...pick(
      'issuer',
      'jwks_uri',
      'authorization_endpoint',
      'token_endpoint',
      'registration_endpoint',
      'revocation_endpoint',
      'introspection_endpoint',
      'grant_types_supported',
      'token_endpoint_auth_methods_supported',
      'token_endpoint_auth_signing_alg_values_supported',
      'scopes_supported',
      'response_types_supported',
    ),
    capabilities: [...SMART_CAPABILITIES],
    code_challenge_methods_supported: ['S256'],
  };
}

function buildCapabilityStatement(smart: Record<string, unknown>): Record<string, unknown> {
  const uri = (name: string, field: string) =>
    typeof smart[field] === 'string' ? [{ url: name, valueUri: smart[field] }] : [];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2024-01-01',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        security: {
          service: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
                  code: 'SMART-on-FHIR',
                },
              ],
            },
          ],
          extension: [
            {
              url: OAUTH_URIS,
              extension: [
                ...uri('authorize', 'authorization_endpoint'),
                ...uri('token', 'token_endpoint'),
                ...uri('register', 'registration_endpoint'),
                ...uri('revoke', 'revocation_endpoint'),
              ],
            },
          ],
        },
      },
    ],
  };
}

function sendJson(res: ServerResponse, status: number, contentType: string, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function applySecretExpiry(
  store: Map<string, StoredEntry>,
  body: Record<string, unknown>,
  seconds: number,
): void {
  if (typeof body.client_secret !== 'string' || body.client_secret_expires_at !== 0) return;
  const expiresAt = Math.floor(Date.now() / 1000) + seconds;
  body.client_secret_expires_at = expiresAt;
  const entry = readEntry(store, `Client:${String(body.client_id)}`);
  if (entry) entry.payload.client_secret_expires_at = expiresAt;
}

/** A new secret for the client just updated, in the stored client and in the answer. */
function rotateSecret(
  store: Map<string, StoredEntry>,
  body: Record<string, unknown>,
  expiresInSeconds: number | undefined,
): void {
  if (typeof body.client_secret !== 'string') return;
  const entry = readEntry(store, `Client:${String(body.client_id)}`);
  if (!entry) return;
  const secret = randomBytes(32).toString('base64url');
  const expiresAt = expiresInSeconds === undefined ? 0 : Math.floor(Date.now() / 1000) + expiresInSeconds;
  entry.payload.client_secret = secret;
  entry.payload.client_secret_expires_at = expiresAt;
  body.client_secret = secret;
  body.client_secret_expires_at = expiresAt;
}

function looksLikeSoftwareStatement(value: string): boolean {
  const parts = value.split('.');
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return false;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
    return isObject(claims) && typeof claims.iss === 'string';
  } catch {
    return false;
  }
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface StoredEntry {
  payload: AdapterPayload;
  /** Epoch milliseconds; absent for models stored without a lifetime (clients). */
  expiresAt?: number;
}

function readEntry(store: Map<string, StoredEntry>, key: string): StoredEntry | undefined {
  const entry = store.get(key);
  if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry;
}

function liveEntries(store: Map<string, StoredEntry>, model: string): StoredEntry[] {
  const prefix = `${model}:`;
  return [...store.keys()]
    .filter((key) => key.startsWith(prefix))
    .map((key) => readEntry(store, key))
    .filter((entry) => entry !== undefined);
}

/** oidc-provider's adapter contract over one Map shared by every model of a server. */
class MapAdapter implements Adapter {
  readonly #model: string;
  readonly #store: Map<string, StoredEntry>;

  constructor(model: string, store: Map<string, StoredEntry>) {
    this.#model = model;
    this.#store = store;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    this.#store.set(this.#key(id), {
      payload: structuredClone(payload),
      ...(expiresIn === undefined ? {} : { expiresAt: Date.now() + expiresIn * 1000 }),
    });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const entry = readEntry(this.#store, this.#key(id));
    return entry ? structuredClone(entry.payload) : undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findBy('uid', uid);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findBy('userCode', userCode);
  }

  async consume(id: string): Promise<void> {
    const entry = readEntry(this.#store, this.#key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.#store.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const [key, entry] of this.#store) {
      if (entry.payload.grantId === grantId) this.#store.delete(key);
    }
  }

  #key(id: string): string {
    return `${this.#model}:${id}`;
  }

  #findBy(field: string, value: string): AdapterPayload | undefined {
    const entry = liveEntries(this.#store, this.#model).find((e) => e.payload[field] === value);
    return entry ? structuredClone(entry.payload) : undefined;
  }
}
