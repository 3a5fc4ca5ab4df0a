// `dcr-provisioner rotate T --fhir-base-url URL`: queues a re-registration (reason `manual`) of a
// registration the registry knows, as the sweep does for due ones. Prints the job id; an unknown
// registration fails (exit 1), a request the rules refuse is a usage error naming the field (exit 2).

import { Command } from 'commander';
import { openProducerContext } from '../../workers/producer-context.js';
import { loadConfig } from '../config/index.js';
import { CommandFailed, UsageError } from './cli-errors.js';

/** The command-line spelling of each request field, so a usage error names what the user typed. */
const ARGUMENT_OF_FIELD: Readonly<Record<string, string>> = {
  tenantId: '<tenantId>',
  fhirBaseUrl: '--fhir-base-url',
  'initialAccessToken.secretId': '--iat-secret-id',
};

interface RotateOptions {
  fhirBaseUrl: string;
  iatSecretId?: string;
  json?: boolean;
}

export function rotateCommand(): Command {
  return new Command('rotate')
    .description("Queue a rotation of a tenant's credentials with one FHIR server (RFC 7592 or a new client)")
    .argument('<tenantId>', 'the tenant')
    .requiredOption('--fhir-base-url <url>', "the FHIR server's base URL, as registered")
    .option(
      '--iat-secret-id <id>',
      'the secret holding an initial access token, used if a successor client has to be registered',
    )
    .option('--json', 'print JSON instead of text')
    .action(async (tenantId: string, options: RotateOptions) => {
      const context = await openProducerContext(loadConfig());
      try {
        const result = await context.producer.enqueueRotation({
          tenantId,
          fhirBaseUrl: options.fhirBaseUrl,
          reason: 'manual',
          ...(options.iatSecretId ? { initialAccessToken: { secretId: options.iatSecretId } } : {}),
        });
        switch (result.status) {
          case 'invalid':
            throw new UsageError(
              result.issues
                .map((issue) => `${ARGUMENT_OF_FIELD[issue.path] ?? issue.path}: ${issue.message}`)
                .join('; '),
            );
          case 'not_found':
          case 'unavailable':
            process.stderr.write(`error: ${result.message}\n`);
            throw new CommandFailed();
          default:
            if (options.json) {
              process.stdout.write(`${JSON.stringify({ jobId: result.jobId, status: result.status })}\n`);
              return;
            }
            process.stdout.write(`${result.jobId}\n`);
            if (result.status === 'already_queued') {
              process.stderr.write(
                'already queued: a job for this tenant and server is waiting or running\n',
              );
            }
        }
      } finally {
        await context.close();
      }
    });
}
