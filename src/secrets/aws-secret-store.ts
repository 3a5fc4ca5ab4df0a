// The SecretStore on AWS Secrets Manager. IAM actions used: CreateSecret, TagResource (tags on create),
// PutSecretValue, UpdateSecretVersionStage, DescribeSecret, GetSecretValue, ListSecrets;
// kms:GenerateDataKey/Decrypt with a KMS key.

import {
  CreateSecretCommand,
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { ProvisioningError } from '../failures/index.js';
import { restoreHint, secretStoreErrorFromAws, sensitiveStrings } from './aws-error.js';
import { checkListOptions } from './list-options.js';
import { assertValidSecretName } from './secret-name.js';
import type {
  ListOptions,
  MakeCurrentOptions,
  SecretPage,
  SecretStore,
  SecretWrite,
  StoredSecret,
  WrittenVersion,
} from './secret-store.js';
import { TOKEN_REUSED_PROBLEM, type ValidSecretWrite, validateSecretWrite } from './validate-secret-write.js';
import {
  checkMakeCurrent,
  currentMoved,
  noSuchSecret,
  noSuchVersion,
  pendingNeedsSecret,
  STAGE,
} from './version-stages.js';

export interface AwsSecretStoreOptions {
  /** A ready client (tests, custom credentials or retry settings). When given, the fields below except `kmsKeyId` are ignored and `close()` leaves it open. */
  client?: SecretsManagerClient;
  /** @defaultValue the SDK's resolution (AWS_REGION, profile) */
  region?: string;
  /** @defaultValue the SDK's resolution (AWS_ENDPOINT_URL_SECRETS_MANAGER, then the regional endpoint) */
  endpoint?: string;
  /** KMS key (id, ARN or alias) for new secrets. @defaultValue the account's `aws/secretsmanager` key */
  kmsKeyId?: string;
  /** Per attempt, to establish the connection. @defaultValue 3000 */
  connectionTimeoutMs?: number;
  /** Per attempt, from sending to the whole answer. @defaultValue 10000 */
  requestTimeoutMs?: number;
  /** Attempts per call including the first; the SDK retries throttling, 5xx and network errors. @defaultValue 3 */
  maxAttempts?: number;
}

const NOT_FOUND = 'ResourceNotFoundException';
/** DescribeSecret and UpdateSecretVersionStage rounds of one makeCurrent while other writers move labels. */
const MAKE_CURRENT_ROUNDS = 3;

function errorName(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'name' in err ? String(err.name) : undefined;
}

export class AwsSecretStore implements SecretStore {
  readonly #client: SecretsManagerClient;
  readonly #ownsClient: boolean;
  readonly #kmsKeyId: string | undefined;

  constructor(options: AwsSecretStoreOptions = {}) {
    this.#kmsKeyId = options.kmsKeyId;
    this.#ownsClient = options.client === undefined;
    this.#client =
      options.client ??
      new SecretsManagerClient({
        ...(options.region ? { region: options.region } : {}),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        maxAttempts: options.maxAttempts ?? 3,
        // Without these the SDK waits on a dead connection for as long as the socket allows.
        requestHandler: {
          connectionTimeout: options.connectionTimeoutMs ?? 3000,
          requestTimeout: options.requestTimeoutMs ?? 10_000,
        },
      });
  }

  async write(input: SecretWrite): Promise<WrittenVersion> {
    const write = validateSecretWrite(input);
    const sensitive = sensitiveStrings(write.value, write.clientRequestToken);
    const attempt = await this.#create(write, sensitive);
    if ('versionId' in attempt) return attempt;
    const described = await this.#describe(write.name, true);
    if (described === undefined) {
      // Neither created nor existing: report why CreateSecret refused, or let a retry create it.
      throw attempt.refusal !== undefined
        ? secretStoreErrorFromAws(attempt.refusal, {
            operation: 'CreateSecret',
            secretName: write.name,
            sensitive,
          })
        : new ProvisioningError(
            'secret_store_unavailable',
            `cannot write secret ${write.name}: it existed a moment ago and now does not; a retry creates it`,
          );
    }
    return this.#addVersion(write, described, sensitive, 'current');
  }

  async writePending(input: SecretWrite): Promise<WrittenVersion> {
    const write = validateSecretWrite(input);
    const sensitive = sensitiveStrings(write.value, write.clientRequestToken);
    const described = await this.#describe(write.name, true);
    if (described === undefined) throw pendingNeedsSecret(write.name);
    return this.#addVersion(write, described, sensitive, 'pending');
  }

  /** CreateSecret, or why the name is taken so that a version must be added instead. */
  async #create(
    write: ValidSecretWrite,
    sensitive: readonly string[],
  ): Promise<WrittenVersion | { refusal: unknown }> {
    try {
      const created = await this.#client.send(
        new CreateSecretCommand({
          Name: write.name,
          SecretString: write.value,
          ClientRequestToken: write.clientRequestToken,
          ...(write.description === undefined ? {} : { Description: write.description }),
          ...(this.#kmsKeyId === undefined ? {} : { KmsKeyId: this.#kmsKeyId }),
          ...(Object.keys(write.tags).length === 0
            ? {}
            : { Tags: Object.entries(write.tags).map(([Key, Value]) => ({ Key, Value })) }),
        }),
      );
      // moto answers a CreateSecret that repeats the token of any existing version with success and the
      // *current* version's id; only our own token proves that our version exists.
      return created.VersionId === write.clientRequestToken
        ? { versionId: created.VersionId, created: true }
        : { refusal: undefined };
    } catch (err) {
      const name = errorName(err);
      // The name is taken (ResourceExistsException), or — on AWS — scheduled for deletion
      // (InvalidRequestException; moto says ResourceExistsException): DescribeSecret tells which.
      if (name === 'ResourceExistsException' || name === 'InvalidRequestException') return { refusal: err };
      throw secretStoreErrorFromAws(err, { operation: 'CreateSecret', secretName: write.name, sensitive });
    }
  }

  /** PutSecretValue: a version that becomes current, or one labelled only AWSPENDING. */
  async #addVersion(
    write: ValidSecretWrite,
    described: DescribeSecretCommandOutput,
    sensitive: readonly string[],
    stage: 'current' | 'pending',
  ): Promise<WrittenVersion> {
    // AWS refuses PutSecretValue here anyway, but moto accepts it; checking first gives one answer and
    // the precise hint on both.
    if (described.DeletedDate !== undefined) throw scheduledForDeletion(write.name, described.DeletedDate);
    const token = write.clientRequestToken;
    // AWS answers a repeated token alike whatever the version's labels: no-op for the same value,
    // ResourceExistsException for another. moto instead overwrites a version that carries AWSPENDING,
    // value and labels, so that case is answered here, the same on both.
    if (described.VersionIdsToStages?.[token]?.includes(STAGE.pending)) {
      const existing = await this.#read(write.name, { VersionId: token });
      if (existing?.value === write.value) return { versionId: token, created: false };
      if (existing !== undefined) {
        throw new ProvisioningError(
          'secret_store_rejected',
          `cannot write secret ${write.name}: ${TOKEN_REUSED_PROBLEM}`,
        );
      }
    }
    try {
      const put = await this.#client.send(
        new PutSecretValueCommand({
          SecretId: write.name,
          SecretString: write.value,
          ClientRequestToken: token,
          ...(stage === 'pending' ? { VersionStages: [STAGE.pending] } : {}),
        }),
      );
      return { versionId: put.VersionId ?? token, created: false };
    } catch (err) {
      // Deleted since DescribeSecret: a plain write creates it on a retry, a pending one never does.
      if (stage === 'pending' && errorName(err) === NOT_FOUND) throw pendingNeedsSecret(write.name);
      throw secretStoreErrorFromAws(err, { operation: 'PutSecretValue', secretName: write.name, sensitive });
    }
  }

  async makeCurrent(name: string, versionId: string, options: MakeCurrentOptions = {}): Promise<void> {
    const what = checkMakeCurrent(name, versionId);
    for (let round = 1; ; round++) {
      const described = await this.#describe(name, true);
      if (described === undefined) throw noSuchSecret(what);
      if (described.DeletedDate !== undefined) throw scheduledForDeletion(name, described.DeletedDate);
      // DescribeSecret lists only versions with a label (moto lists the others with none); one without
      // is found by id.
      const stagesById = described.VersionIdsToStages ?? {};
      const stages = stagesById[versionId] ?? [];
      if (stagesById[versionId] === undefined && (await this.readVersion(name, versionId)) === undefined) {
        throw noSuchVersion(what);
      }
      const current = Object.keys(stagesById).find((id) => stagesById[id]?.includes(STAGE.current));
      if (options.ifCurrent !== undefined && current !== versionId && current !== options.ifCurrent) {
        throw currentMoved(what, options.ifCurrent);
      }
      try {
        // AWS moves AWSPREVIOUS to the version AWSCURRENT leaves by itself (UpdateSecretVersionStage's
        // documentation, and moto does the same), so one call moves both.
        if (!stages.includes(STAGE.current)) {
          await this.#client.send(
            new UpdateSecretVersionStageCommand({
              SecretId: name,
              VersionStage: STAGE.current,
              MoveToVersionId: versionId,
              ...(current === undefined ? {} : { RemoveFromVersionId: current }),
            }),
          );
        }
        // Second, so that a failure in between leaves the version current, and a retry finishes.
        if (stages.includes(STAGE.pending)) {
          await this.#client.send(
            new UpdateSecretVersionStageCommand({
              SecretId: name,
              VersionStage: STAGE.pending,
              RemoveFromVersionId: versionId,
            }),
          );
        }
        return;
      } catch (err) {
        // A label moved, or the version went, between DescribeSecret and the update (another writer):
        // look again rather than fail on a picture that is out of date.
        const retry = errorName(err) === 'InvalidParameterException' || errorName(err) === NOT_FOUND;
        if (retry && round < MAKE_CURRENT_ROUNDS) continue;
        throw secretStoreErrorFromAws(err, { operation: 'UpdateSecretVersionStage', secretName: name });
      }
    }
  }

  readCurrent(name: string): Promise<StoredSecret | undefined> {
    return this.#read(name, { VersionStage: 'AWSCURRENT' });
  }

  readPrevious(name: string): Promise<StoredSecret | undefined> {
    return this.#read(name, { VersionStage: 'AWSPREVIOUS' });
  }

  readVersion(name: string, versionId: string): Promise<StoredSecret | undefined> {
    return this.#read(name, { VersionId: versionId });
  }

  async #read(
    name: string,
    version: { VersionStage: 'AWSCURRENT' | 'AWSPREVIOUS' } | { VersionId: string },
  ): Promise<StoredSecret | undefined> {
    assertValidSecretName(name);
    const stage = 'VersionStage' in version ? version.VersionStage : `version ${version.VersionId}`;
    let answer: GetSecretValueCommandOutput;
    try {
      answer = await this.#client.send(new GetSecretValueCommand({ SecretId: name, ...version }));
    } catch (err) {
      // No secret, or no such version (a secret with one version has no AWSPREVIOUS).
      if (errorName(err) === NOT_FOUND) return undefined;
      throw secretStoreErrorFromAws(err, { operation: 'GetSecretValue', secretName: name });
    }
    if (typeof answer.SecretString !== 'string' || answer.VersionId === undefined) {
      throw new ProvisioningError(
        'secret_store_rejected',
        `cannot read secret ${name}: its ${stage} version holds binary data, not text`,
      );
    }
    return {
      name: answer.Name ?? name,
      value: answer.SecretString,
      versionId: answer.VersionId,
      ...(answer.CreatedDate === undefined ? {} : { createdAt: answer.CreatedDate }),
    };
  }

  async list(prefix: string, options: ListOptions = {}): Promise<SecretPage> {
    const { pageSize } = checkListOptions(prefix, options);
    try {
      const page = await this.#client.send(
        new ListSecretsCommand({
          MaxResults: pageSize,
          ...(options.pageToken === undefined ? {} : { NextToken: options.pageToken }),
          // The name filter is a case-sensitive prefix match on AWS and moto; the check below keeps the
          // port's contract should a backend match more loosely. Secrets scheduled for deletion are
          // left out, as ListSecrets does by default.
          ...(prefix === '' ? {} : { Filters: [{ Key: 'name', Values: [prefix] }] }),
        }),
      );
      const names = (page.SecretList ?? [])
        .map((s) => s.Name)
        .filter((n): n is string => typeof n === 'string' && n.startsWith(prefix));
      return page.NextToken ? { names, nextPageToken: page.NextToken } : { names };
    } catch (err) {
      throw secretStoreErrorFromAws(err, { operation: 'ListSecrets', secretName: JSON.stringify(prefix) });
    }
  }

  async readTags(name: string): Promise<Record<string, string> | undefined> {
    assertValidSecretName(name);
    const described = await this.#describe(name, false);
    if (described === undefined) return undefined;
    return Object.fromEntries(
      (described.Tags ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? '']])),
    );
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.destroy();
  }

  /** DescribeSecret, or undefined when there is no such secret. */
  async #describe(name: string, writing: boolean): Promise<DescribeSecretCommandOutput | undefined> {
    try {
      return await this.#client.send(new DescribeSecretCommand({ SecretId: name }));
    } catch (err) {
      if (errorName(err) === NOT_FOUND) return undefined;
      throw secretStoreErrorFromAws(err, { operation: 'DescribeSecret', secretName: name, writing });
    }
  }
}

function scheduledForDeletion(name: string, deletedDate: Date): ProvisioningError {
  return new ProvisioningError(
    'secret_store_rejected',
    `cannot write secret ${name}: it is scheduled for deletion on ${deletedDate.toISOString()}; ${restoreHint(name)}, or choose another SECRET_NAME_PREFIX`,
  );
}
