// `dcr-provisioner enqueue`: one request from flags, or many from an NDJSON file (one JSON request per
// line) with progress and a summary of the lines not queued, by line number.

import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import { Command, Option } from 'commander';
import { openProducerContext, type ProducerContext } from '../../workers/producer-context.js';
import { loadConfig } from '../config/index.js';
import { REGISTRATION_REASONS } from '../events/index.js';
import { CLIENT_KEY_ALGORITHMS } from '../keys/index.js';
import { type EnqueueResult, KEY_PUBLICATIONS, type RequestIssue } from '../queue/index.js';
import { CommandFailed, UsageError } from './cli-errors.js';

const BATCH_SIZE = 500;

interface SingleOptions {
  tenant?: string;
  fhirBaseUrl?: string;
  metadata?: string;
  registrationEndpoint?: string;
  iatSecretId?: string;
  reason?: string;
  /** `--verify` / `--no-verify`; undefined: the request's default (verify client_credentials clients). */
  verify?: boolean;
  /** `--generate-key <alg>`: the request's `keys.generate.alg`; the service makes the key pair. */
  generateKey?: string;
  /** `--publish <jwks|jwks_uri>`: the request's `keys.publish`; only with --generate-key. */
  publish?: string;
  file?: string;
}

/** The request's `keys` from the flags; the request schema judges it with the metadata. */
function keysOf(options: SingleOptions): Record<string, unknown> {
  if (options.generateKey === undefined) return {};
  return {
    keys: {
      generate: { alg: options.generateKey },
      ...(options.publish !== undefined ? { publish: options.publish } : {}),
    },
  };
}

async function readMetadata(file: string | undefined): Promise<unknown> {
  if (file === undefined) return {};
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(
      `--metadata ${file} ${err instanceof SyntaxError ? 'is not valid JSON' : 'cannot be read'}`,
    );
  }
}

function printIssues(prefix: string, issues: readonly RequestIssue[]): void {
  for (const issue of issues) process.stderr.write(`${prefix}${issue.path}: ${issue.message}\n`);
}

async function enqueueOne(context: ProducerContext, options: SingleOptions): Promise<void> {
  if (!options.tenant || !options.fhirBaseUrl) {
    throw new UsageError('enqueue needs --tenant and --fhir-base-url, or --file');
  }
  const result = await context.producer.enqueue({
    tenantId: options.tenant,
    fhirBaseUrl: options.fhirBaseUrl,
    clientMetadata: await readMetadata(options.metadata),
    ...(options.registrationEndpoint ? { registrationEndpoint: options.registrationEndpoint } : {}),
    ...(options.iatSecretId ? { initialAccessToken: { secretId: options.iatSecretId } } : {}),
    ...(options.reason ? { reason: options.reason } : {}),
    ...(options.verify !== undefined ? { verify: options.verify } : {}),
    ...keysOf(options),
  });
  if (result.status === 'invalid') {
    printIssues('error: ', result.issues);
    throw new CommandFailed();
  }
  if (result.status === 'conflict' || result.status === 'unavailable') {
    process.stderr.write(`error: not queued: ${result.message}\n`);
    throw new CommandFailed();
  }
  process.stdout.write(`${result.jobId}\n`);
  if (result.status === 'already_queued') {
    process.stderr.write('already queued: a job for this tenant and server is waiting or running\n');
  }
}

interface Line {
  lineNumber: number;
  request?: unknown;
  issues?: RequestIssue[];
}

/** A line that was valid and still not queued: why, in the producer's words. */
interface NotQueued {
  lineNumber: number;
  status: 'conflict' | 'unavailable';
  message: string;
}

async function* ndjsonLines(file: string): AsyncGenerator<Line> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let lineNumber = 0;
  for await (const text of lines) {
    lineNumber += 1;
    if (text.trim() === '') continue;
    try {
      yield { lineNumber, request: JSON.parse(text) };
    } catch {
      yield { lineNumber, issues: [{ path: '(line)', message: 'is not valid JSON' }] };
    }
  }
}

async function countLines(file: string): Promise<number> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '').length;
  } catch {
    throw new UsageError(`--file ${file} cannot be read`);
  }
}

/** Fails (exit 1) when any line was not queued, so scripts notice; the accepted lines stay queued. */
async function enqueueFile(context: ProducerContext, file: string): Promise<void> {
  const total = await countLines(file);
  const bar = new SingleBar({
    format: 'enqueue [{bar}] {value}/{total} lines',
    stream: process.stderr,
    noTTYOutput: true,
    notTTYSchedule: 2000,
  });
  bar.start(total, 0);
  const counts = { queued: 0, already_queued: 0, conflict: 0, unavailable: 0, rejected: 0 };
  const rejected: Line[] = [];
  const notQueued: NotQueued[] = [];

  const flush = async (batch: Line[]) => {
    const valid = batch.filter((line) => line.issues === undefined);
    const results: EnqueueResult[] = await context.producer.enqueueMany(valid.map((line) => line.request));
    valid.forEach((line, i) => {
      const result = results[i] as EnqueueResult;
      if (result.status === 'invalid') line.issues = result.issues;
      else counts[result.status] += 1;
      if (result.status === 'conflict' || result.status === 'unavailable') {
        notQueued.push({ lineNumber: line.lineNumber, status: result.status, message: result.message });
      }
    });
    for (const line of batch.filter((l) => l.issues)) {
      counts.rejected += 1;
      rejected.push(line);
    }
    bar.increment(batch.length);
  };

  let batch: Line[] = [];
  for await (const line of ndjsonLines(file)) {
    batch.push(line);
    if (batch.length === BATCH_SIZE) {
      await flush(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await flush(batch);
  bar.stop();

  // The outcomes that need a second try are counted only when they occurred, so the usual line stays short.
  const parts = [
    `queued ${counts.queued}`,
    `already queued ${counts.already_queued}`,
    ...(counts.conflict > 0 ? [`conflict ${counts.conflict}`] : []),
    ...(counts.unavailable > 0 ? [`unavailable ${counts.unavailable}`] : []),
    `rejected ${counts.rejected}`,
  ];
  process.stdout.write(`${parts.join(', ')} (of ${total} lines)\n`);
  for (const line of rejected) printIssues(`line ${line.lineNumber}: `, line.issues ?? []);
  // Not rejected, not queued either: send these lines again (after the rotation, or later).
  for (const line of notQueued) {
    process.stderr.write(`line ${line.lineNumber}: ${line.status}: ${line.message}\n`);
  }
  if (counts.rejected > 0 || notQueued.length > 0) throw new CommandFailed();
}

export function enqueueCommand(): Command {
  return new Command('enqueue')
    .description('Queue a registration, or many from an NDJSON file (one JSON request per line)')
    .option('--tenant <tenantId>', 'the tenant to register a client for')
    .option('--fhir-base-url <url>', "the FHIR server's base URL")
    .option('--metadata <file>', 'a JSON file with the RFC 7591 client metadata')
    .option('--registration-endpoint <url>', 'skip discovery and register here')
    .option('--iat-secret-id <id>', 'the secret holding the initial access token')
    .addOption(
      new Option('--reason <reason>', 'why the registration is requested').choices([...REGISTRATION_REASONS]),
    )
    .option(
      '--verify',
      'request a token with the new credentials once stored (the default for client_credentials clients)',
    )
    .option('--no-verify', 'do not request a token with the new credentials')
    .addOption(
      new Option(
        '--generate-key <alg>',
        "the service makes the key pair of this private_key_jwt client, which signs with alg (the request's keys.generate; the metadata must carry no jwks or jwks_uri)",
      ).choices([...CLIENT_KEY_ALGORITHMS]),
    )
    .addOption(
      new Option(
        '--publish <how>',
        'with --generate-key: register the public key inline as jwks (the default) or by a jwks_uri under JWKS_PUBLIC_BASE_URL (keys.publish)',
      ).choices([...KEY_PUBLICATIONS]),
    )
    .option('--file <ndjson>', 'a file of requests, one JSON object per line, as the HTTP API takes them')
    .action(async (options: SingleOptions) => {
      if (options.file && (options.tenant || options.fhirBaseUrl)) {
        throw new UsageError('--file cannot be combined with --tenant or --fhir-base-url');
      }
      if (options.file && options.verify !== undefined) {
        throw new UsageError(
          '--file cannot be combined with --verify or --no-verify: give "verify" on each line',
        );
      }
      if (options.file && (options.generateKey !== undefined || options.publish !== undefined)) {
        throw new UsageError(
          '--file cannot be combined with --generate-key or --publish: give "keys" on each line',
        );
      }
      if (options.publish !== undefined && options.generateKey === undefined) {
        throw new UsageError(
          '--publish needs --generate-key: it says where the public half of a key the service makes is registered',
        );
      }
      const context = await openProducerContext(loadConfig());
      try {
        if (options.file) await enqueueFile(context, options.file);
        else await enqueueOne(context, options);
      } finally {
        await context.close();
      }
    });
}
