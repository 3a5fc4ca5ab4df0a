// Puts registration and rotation requests on the queue. Validates with the worker's own schemas,
// stores an initial access token given by value in the secret store first (only its reference is
// queued), and deduplicates in-flight work per tenant and server: a registration and a rotation of the
// same registration never run at once. Every item of a batch gets its own answer; only a failure of
// the queue itself (Redis) rejects the whole call.

import { randomUUID } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import type { z } from 'zod';
import type { Config } from '../config/index.js';
import { isProvisioningError, type ProvisioningError } from '../failures/index.js';
import type { RegistrationRegistry } from '../registry/index.js';
import { initialAccessTokenSecretName, type SecretStore } from '../secrets/index.js';
import { normalizeFhirBaseUrl } from '../smart/index.js';
import { JOB_NAMES } from './names.js';
import { newJobId, registrationKey } from './registration-key.js';
import {
  type RequestIssue,
  type RequestRules,
  registrationRequestSchema,
  requestIssues,
} from './registration-request.js';
import { rotationRequestSchema } from './rotation-request.js';

export type EnqueueResult =
  | { status: 'queued'; jobId: string }
  | { status: 'already_queued'; jobId: string }
  /**
   * A registration while a rotation of the same tenant and server waits or runs (`jobId`): not queued,
   * so its metadata is not applied; send it again once that job has finished.
   */
  | { status: 'conflict'; jobId: string; message: string }
  | { status: 'invalid'; issues: RequestIssue[] }
  /** The secret store failed, for now, to store this request's initial access token: not queued. */
  | { status: 'unavailable'; message: string };

export type RotationEnqueueResult =
  // A rotation while a registration waits is `already_queued`: that one issues fresh credentials anyway.
  | Exclude<EnqueueResult, { status: 'conflict' }>
  /** The registry knows no stored client for this tenant and server. */
  | { status: 'not_found'; message: string };

type AnyEnqueueResult = EnqueueResult | RotationEnqueueResult;

/** A request after validation: what every job kind names, plus its own fields. */
interface ValidRequest {
  tenantId: string;
  fhirBaseUrl: string;
  reason: string;
  initialAccessToken?: { secretId: string } | { value: string } | undefined;
}

interface JobKind {
  name: string;
  schema: z.ZodType<ValidRequest>;
  /** Only for a registration the registry knows (a rotation). */
  mustExist: boolean;
  /** An in-flight rotation makes a request of this kind a conflict rather than a duplicate. */
  conflictsWithRotation: boolean;
}

export interface ProducerOptions extends RequestRules {
  queue: Queue;
  secretStore: SecretStore;
  /** Records the latest job per tenant and server, for status queries. */
  registry?: RegistrationRegistry;
  /** SECRET_NAME_PREFIX, for initial access tokens given by value. */
  secretNamePrefix: string;
  /** JOB_ATTEMPTS: tries per job, the first included. */
  attempts: number;
  /** Retention of finished jobs, so Redis does not grow without bound. */
  retention: {
    completedMaxAgeSeconds: number;
    completedMaxCount: number;
    failedMaxAgeSeconds: number;
    failedMaxCount: number;
  };
}

const SCHEDULED_PRIORITY = 10;

/**
 * Transient secret-store failures in a row after which a batch stops storing tokens: each failed write
 * has already waited out the SDK's retries, and an outage must not hold the call (and the store) for
 * every remaining item of a 1,000-item batch.
 */
const STORE_FAILURES_BEFORE_GIVING_UP = 3;

/** The job already waiting or active for a tenant and server. */
interface InFlightJob {
  id: string;
  name: string | undefined;
}

const hasTokenValue = (request: ValidRequest): boolean =>
  request.initialAccessToken !== undefined && 'value' in request.initialAccessToken;

interface Prepared {
  index: number;
  jobId: string;
  key: string;
  payload: ValidRequest & { requestedAt: string };
}

export class RegistrationProducer {
  readonly #options: ProducerOptions;
  readonly #registration: JobKind;
  readonly #rotation: JobKind;

  constructor(options: ProducerOptions) {
    this.#options = options;
    this.#registration = {
      name: JOB_NAMES.registerClient,
      schema: registrationRequestSchema(options),
      mustExist: false,
      // Answering `already_queued` would drop its metadata silently: a rotation keeps the registered one.
      conflictsWithRotation: true,
    };
    this.#rotation = {
      name: JOB_NAMES.rotateClient,
      schema: rotationRequestSchema(options),
      mustExist: true,
      // A waiting registration issues fresh credentials anyway.
      conflictsWithRotation: false,
    };
  }

  async enqueue(input: unknown): Promise<EnqueueResult> {
    const [result] = await this.enqueueMany([input]);
    return result as EnqueueResult;
  }

  /** One result per input, in order; a bad item never rejects the others. */
  enqueueMany(inputs: readonly unknown[]): Promise<EnqueueResult[]> {
    // A registration is never `not_found`: only a rotation requires an existing one.
    return this.#enqueue(inputs, this.#registration) as Promise<EnqueueResult[]>;
  }

  /** Re-registration of an existing registration; `not_found` when the registry does not know it. */
  async enqueueRotation(input: unknown): Promise<RotationEnqueueResult> {
    const [result] = await this.enqueueRotations([input]);
    return result as RotationEnqueueResult;
  }

  enqueueRotations(inputs: readonly unknown[]): Promise<RotationEnqueueResult[]> {
    // A rotation is never a `conflict`: only a registration yields to a job of another kind.
    return this.#enqueue(inputs, this.#rotation) as Promise<RotationEnqueueResult[]>;
  }

  async #enqueue(inputs: readonly unknown[], kind: JobKind): Promise<AnyEnqueueResult[]> {
    const results: AnyEnqueueResult[] = new Array(inputs.length);
    let valid: Array<{ index: number; key: string; request: ValidRequest }> = [];
    for (const [index, input] of inputs.entries()) {
      const parsed = kind.schema.safeParse(input);
      if (parsed.success) {
        valid.push({
          index,
          key: registrationKey(parsed.data.tenantId, parsed.data.fhirBaseUrl),
          request: parsed.data,
        });
      } else {
        results[index] = { status: 'invalid', issues: requestIssues(parsed.error) };
      }
    }
    if (kind.mustExist) valid = await this.#onlyRegistered(valid, results);
    // A duplicate carrying an initial access token is answered before its token is stored: storing it
    // would replace the token the queued job is about to use (a one-shot token would then be spent by
    // the wrong job). Other duplicates are answered by addBulk itself, which returns the queued job.
    const inFlight = await this.#inFlight(
      valid.map(({ key, request }) => (hasTokenValue(request) ? key : undefined)),
    );
    const prepared: Prepared[] = [];
    // A second request for a key already prepared in this batch shares the first one's fate, known
    // once addBulk has answered: its job's id if queued, or what blocked it.
    const firstOfKey = new Map<string, number>();
    const followers: Array<{ index: number; request: ValidRequest; first: number }> = [];
    let storeFailuresInARow = 0;
    for (const [i, { index, key, request }] of valid.entries()) {
      const existing = inFlight[i];
      if (existing) {
        results[index] = this.#blocked(kind, request, existing);
        continue;
      }
      const first = firstOfKey.get(key);
      if (first !== undefined) {
        followers.push({ index, request, first });
        continue;
      }
      if (hasTokenValue(request) && storeFailuresInARow >= STORE_FAILURES_BEFORE_GIVING_UP) {
        results[index] = {
          status: 'unavailable',
          message: `the initial access token was not stored, so the request was not queued: the secret store failed for the ${STORE_FAILURES_BEFORE_GIVING_UP} tokens of this batch before it; send it again later`,
        };
        continue;
      }
      // Tokens are stored before anything is queued, so a job never runs without its token. An item
      // whose token cannot be stored is answered alone and queued not at all; a write whose outcome was
      // unknown may have left its token in the tenant's token secret, which the next request for this
      // tenant and server overwrites. Tokens are written only after every lookup, so what can still
      // leave one written and not queued is a job added for the same tenant and server between the
      // lookup and addBulk (a narrow race, answered below), or addBulk failing (Redis, a 503): the
      // caller's retry then writes the tokens again.
      let payload: Prepared['payload'];
      try {
        payload = await this.#toJob(request);
      } catch (err) {
        if (!isProvisioningError(err)) throw err;
        if (err.retryable) storeFailuresInARow += 1;
        results[index] = storeFailure(err);
        continue;
      }
      if (hasTokenValue(request)) storeFailuresInARow = 0;
      const jobId = newJobId(key);
      firstOfKey.set(key, prepared.length);
      prepared.push({ index, key, jobId, payload });
    }
    if (prepared.length === 0) return results;

    const jobs = await this.#options.queue.addBulk(
      prepared.map(({ jobId, key, payload }) => ({
        name: kind.name,
        data: payload,
        opts: this.#jobOptions(jobId, key, payload),
      })),
    );
    // A deduplicated add answers with our own job object, its id replaced by that of the job already
    // waiting or active; its name and data are still ours. A job added since the lookup above (or one
    // without a token, never looked up) is a duplicate found only here, so for a kind that can conflict
    // the existing job's name is read, in one round trip, only for these.
    const deduplicated = prepared.map(({ jobId }, i) => {
      const actualId = jobs[i]?.id ?? jobId;
      return actualId === jobId ? undefined : actualId;
    });
    const blockers = kind.conflictsWithRotation
      ? await this.#jobsByIds(deduplicated, true)
      : deduplicated.map((id) => (id === undefined ? undefined : { id, name: undefined }));
    const recorded: Array<{ key: string; tenantId: string; fhirBaseUrl: string; jobId: string }> = [];
    prepared.forEach(({ index, jobId, key, payload }, i) => {
      const blocker = blockers[i];
      if (blocker) {
        results[index] = this.#blocked(kind, payload, blocker);
        return;
      }
      results[index] = { status: 'queued', jobId };
      recorded.push({ key, tenantId: payload.tenantId, fhirBaseUrl: payload.fhirBaseUrl, jobId });
    });
    for (const { index, request, first } of followers) {
      const blocker = blockers[first] ?? { id: (prepared[first] as Prepared).jobId, name: kind.name };
      results[index] = this.#blocked(kind, request, blocker);
    }
    await this.#options.registry?.recordEnqueuedMany(recorded);
    return results;
  }

  /** The job in flight for each key given (undefined for none, or for a key not given). */
  async #inFlight(keys: ReadonlyArray<string | undefined>): Promise<Array<InFlightJob | undefined>> {
    // Issued together, the lookups travel in one round trip; the jobs are read only for the hits.
    const ids = await Promise.all(
      keys.map((key) => (key === undefined ? undefined : this.#options.queue.getDeduplicationJobId(key))),
    );
    return this.#jobsByIds(ids, false);
  }

  /**
   * The jobs of the ids given, read together. A job that is gone is undefined — unless `known`: an id
   * addBulk answered with was in flight when it was added, even if it has finished since.
   */
  async #jobsByIds(
    ids: ReadonlyArray<string | null | undefined>,
    known: boolean,
  ): Promise<Array<InFlightJob | undefined>> {
    const jobs = await Promise.all(ids.map((id) => (id ? this.#options.queue.getJob(id) : undefined)));
    return ids.map((id, i) => {
      if (!id) return undefined;
      const job = jobs[i];
      // A deduplication entry left by a job that no longer exists blocks nothing: addBulk replaces it.
      if (job === undefined) return known ? { id, name: undefined } : undefined;
      return { id, name: job.name };
    });
  }

  /** The answer to a request that found a job in flight for its tenant and server. */
  #blocked(kind: JobKind, request: ValidRequest, existing: InFlightJob): AnyEnqueueResult {
    if (!kind.conflictsWithRotation || existing.name !== JOB_NAMES.rotateClient) {
      return { status: 'already_queued', jobId: existing.id };
    }
    return {
      status: 'conflict',
      jobId: existing.id,
      message: `a rotation of tenant ${request.tenantId} with ${normalizeFhirBaseUrl(request.fhirBaseUrl)} is queued or running (job ${existing.id}); this registration was not queued and its metadata not applied: send it again once that job has finished`,
    };
  }

  /** Drops (as `not_found`) the requests whose registration has no stored client in the registry. */
  async #onlyRegistered<T extends { index: number; key: string; request: ValidRequest }>(
    valid: T[],
    results: AnyEnqueueResult[],
  ): Promise<T[]> {
    const registry = this.#options.registry;
    if (!registry) return valid;
    const clientIds = await registry.clientIdsOf(valid.map(({ key }) => key));
    return valid.filter(({ index, request }, i) => {
      if (clientIds[i] !== undefined) return true;
      results[index] = {
        status: 'not_found',
        message: `no registration of tenant ${request.tenantId} with ${request.fhirBaseUrl} is known; register it first (or run dcr-provisioner reindex if the registry was lost)`,
      };
      return false;
    });
  }

  async #toJob(request: ValidRequest): Promise<Prepared['payload']> {
    const fhirBaseUrl = normalizeFhirBaseUrl(request.fhirBaseUrl);
    const { initialAccessToken, ...rest } = request;
    const job: Prepared['payload'] = { ...rest, fhirBaseUrl, requestedAt: new Date().toISOString() };
    if (initialAccessToken && 'value' in initialAccessToken) {
      const secretId = initialAccessTokenSecretName(
        this.#options.secretNamePrefix,
        request.tenantId,
        fhirBaseUrl,
      );
      await this.#options.secretStore.write({
        name: secretId,
        value: initialAccessToken.value,
        clientRequestToken: randomUUID(),
        tags: {
          tenant: request.tenantId,
          server: new URL(fhirBaseUrl).host,
          'managed-by': 'dcr-provisioner',
        },
      });
      job.initialAccessToken = { secretId };
    } else if (initialAccessToken) {
      job.initialAccessToken = initialAccessToken;
    }
    return job;
  }

  #jobOptions(jobId: string, key: string, payload: ValidRequest): JobsOptions {
    return {
      jobId,
      deduplication: { id: key },
      ...provisioningJobOptions(this.#options),
      // Scheduled work yields to asked-for work: a sweep that queues thousands of rotations must not
      // hold up onboarding (BullMQ takes jobs without a priority before prioritized ones).
      ...(payload.reason === 'scheduled' ? { priority: SCHEDULED_PRIORITY } : {}),
    };
  }
}

/**
 * The answer for an item whose initial access token the store would not take. A refusal stays one
 * however often the request is sent again, so it is answered as bad input (the store's message names
 * the secret and the problem, never the value); any other failure is the store's, for now.
 */
function storeFailure(err: ProvisioningError): AnyEnqueueResult {
  if (!err.retryable) {
    return {
      status: 'invalid',
      issues: [
        {
          path: 'initialAccessToken.value',
          // Without AWS's own text ("(AccessDeniedException: User: arn:aws:...)"), which names the
          // account and the role to a caller who needs neither.
          message: `the secret store refused to store it: ${err.message.replace(/\((\w+): [^)]*\)/g, '($1)')}`,
        },
      ],
    };
  }
  return {
    status: 'unavailable',
    message: `the initial access token could not be stored, so the request was not queued: ${err.message}; send it again later`,
  };
}

/** Attempts, backoff and retention of every provisioning job, however it is added. */
export function provisioningJobOptions(
  settings: Pick<ProducerOptions, 'attempts' | 'retention'>,
): Pick<JobsOptions, 'attempts' | 'backoff' | 'removeOnComplete' | 'removeOnFail'> {
  const { attempts, retention } = settings;
  return {
    attempts,
    backoff: { type: 'custom' },
    removeOnComplete: { age: retention.completedMaxAgeSeconds, count: retention.completedMaxCount },
    removeOnFail: { age: retention.failedMaxAgeSeconds, count: retention.failedMaxCount },
  };
}

/**
 * The request rules as the configuration states them: the producer, the API and the worker check every
 * request and job with exactly these.
 */
export function requestRulesFromConfig(
  config: Pick<
    Config,
    'ALLOW_INSECURE_LOCALHOST' | 'ALLOWED_PRIVATE_HOSTS' | 'SECRET_NAME_PREFIX' | 'JWKS_PUBLIC_BASE_URL'
  >,
): Required<Omit<RequestRules, 'jwksPublicBaseUrl'>> & Pick<RequestRules, 'jwksPublicBaseUrl'> {
  return {
    allowInsecureLocalhost: config.ALLOW_INSECURE_LOCALHOST,
    allowedPrivateHosts: config.ALLOWED_PRIVATE_HOSTS,
    secretNamePrefix: config.SECRET_NAME_PREFIX,
    jwksPublicBaseUrl: config.JWKS_PUBLIC_BASE_URL,
  };
}

/** The producer's settings as the configuration states them. */
export function producerSettingsFromConfig(
  config: Pick<
    Config,
    | 'ALLOW_INSECURE_LOCALHOST'
    | 'ALLOWED_PRIVATE_HOSTS'
    | 'SECRET_NAME_PREFIX'
    | 'JWKS_PUBLIC_BASE_URL'
    | 'JOB_ATTEMPTS'
    | 'COMPLETED_JOBS_MAX_AGE_S'
    | 'COMPLETED_JOBS_MAX_COUNT'
    | 'FAILED_JOBS_MAX_AGE_S'
    | 'FAILED_JOBS_MAX_COUNT'
  >,
): Omit<ProducerOptions, 'queue' | 'secretStore' | 'registry'> {
  return {
    ...requestRulesFromConfig(config),
    attempts: config.JOB_ATTEMPTS,
    retention: {
      completedMaxAgeSeconds: config.COMPLETED_JOBS_MAX_AGE_S,
      completedMaxCount: config.COMPLETED_JOBS_MAX_COUNT,
      failedMaxAgeSeconds: config.FAILED_JOBS_MAX_AGE_S,
      failedMaxCount: config.FAILED_JOBS_MAX_COUNT,
    },
  };
}
