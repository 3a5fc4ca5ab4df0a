// Puts registration and rotation requests on the queue. Validates with the worker's own schemas,
// stores an initial access token given by value in the secret store first (only its reference is
// queued), and deduplicates in-flight work per tenant and server: a registration and a rotation of the
// same registration never run at once.

import { randomUUID } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import type { z } from 'zod';
import type { Config } from '../config/index.js';
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
  | { status: 'invalid'; issues: RequestIssue[] };

export type RotationEnqueueResult =
  | EnqueueResult
  /** The registry knows no stored client for this tenant and server. */
  | { status: 'not_found'; message: string };

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
    };
    this.#rotation = {
      name: JOB_NAMES.rotateClient,
      schema: rotationRequestSchema(options),
      mustExist: true,
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
    return this.#enqueue(inputs, this.#rotation);
  }

  async #enqueue(inputs: readonly unknown[], kind: JobKind): Promise<RotationEnqueueResult[]> {
    const results: RotationEnqueueResult[] = new Array(inputs.length);
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
    // Issued together, the lookups travel in one round trip.
    const queued = await Promise.all(
      valid.map(({ key, request }) =>
        request.initialAccessToken && 'value' in request.initialAccessToken
          ? this.#options.queue.getDeduplicationJobId(key)
          : undefined,
      ),
    );
    const prepared: Prepared[] = [];
    const inBatch = new Map<string, string>();
    for (const [i, { index, key, request }] of valid.entries()) {
      const existing = inBatch.get(key) ?? queued[i];
      if (existing) {
        results[index] = { status: 'already_queued', jobId: existing };
        continue;
      }
      const jobId = newJobId(key);
      inBatch.set(key, jobId);
      prepared.push({ index, key, jobId, payload: await this.#toJob(request) });
    }
    if (prepared.length === 0) return results;

    const jobs = await this.#options.queue.addBulk(
      prepared.map(({ jobId, key, payload }) => ({
        name: kind.name,
        data: payload,
        opts: this.#jobOptions(jobId, key, payload),
      })),
    );
    const recorded: Array<{ key: string; tenantId: string; fhirBaseUrl: string; jobId: string }> = [];
    prepared.forEach(({ index, jobId, key, payload }, i) => {
      const actualId = jobs[i]?.id ?? jobId;
      // A deduplicated add answers with the id of the job already waiting or active.
      if (actualId !== jobId) {
        results[index] = { status: 'already_queued', jobId: actualId };
        return;
      }
      results[index] = { status: 'queued', jobId };
      recorded.push({ key, tenantId: payload.tenantId, fhirBaseUrl: payload.fhirBaseUrl, jobId });
    });
    await this.#options.registry?.recordEnqueuedMany(recorded);
    return results;
  }

  /** Drops (as `not_found`) the requests whose registration has no stored client in the registry. */
  async #onlyRegistered<T extends { index: number; key: string; request: ValidRequest }>(
    valid: T[],
    results: RotationEnqueueResult[],
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
  config: Pick<Config, 'ALLOW_INSECURE_LOCALHOST' | 'ALLOWED_PRIVATE_HOSTS' | 'SECRET_NAME_PREFIX'>,
): Required<RequestRules> {
  return {
    allowInsecureLocalhost: config.ALLOW_INSECURE_LOCALHOST,
    allowedPrivateHosts: config.ALLOWED_PRIVATE_HOSTS,
    secretNamePrefix: config.SECRET_NAME_PREFIX,
  };
}

/** The producer's settings as the configuration states them. */
export function producerSettingsFromConfig(
  config: Pick<
    Config,
    | 'ALLOW_INSECURE_LOCALHOST'
    | 'ALLOWED_PRIVATE_HOSTS'
    | 'SECRET_NAME_PREFIX'
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
