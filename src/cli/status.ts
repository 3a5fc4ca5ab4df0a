// `dcr-provisioner status T [--fhir-base-url URL]`: where a tenant's registrations stand — state,
// attempts, last failure code, client id, secret id. Never a secret.

import { Command } from 'commander';
import { openProducerContext } from '../../workers/producer-context.js';
import { loadConfig } from '../config/index.js';
import { type RegistrationStatus, registrationStatus, tenantStatuses } from '../queue/index.js';
import { CommandFailed } from './cli-errors.js';

function describe(status: RegistrationStatus): string {
  const rows: Array<[string, string | number | undefined]> = [
    ['fhir base url', status.fhirBaseUrl],
    ['state', status.state],
    ['attempts', status.attempts],
    [
      'last failure',
      status.lastFailure ? `${status.lastFailure.code}: ${status.lastFailure.message}` : undefined,
    ],
    ['client id', status.clientId],
    ['secret id', status.secretId],
    ['secret expires', status.clientSecretExpiresAt === 0 ? 'never' : status.clientSecretExpiresAt],
    ['registered', status.registeredAt],
    ['rotated', status.rotatedAt],
    ['rotation period', status.rotationPeriodDays ? `${status.rotationPeriodDays} days` : undefined],
    ['rfc 7592', status.managed === undefined ? undefined : status.managed ? 'yes' : 'no'],
    [
      'verified',
      status.verified === undefined
        ? undefined
        : status.verified
          ? `yes (${status.verifiedAt})`
          : `no: the token endpoint said ${status.verificationError ?? 'no'} (${status.verifiedAt}); the credentials are stored`,
    ],
    ['possible orphan', status.possibleOrphan ? `yes (lost attempt at ${status.lostAttemptAt})` : undefined],
    ['job id', status.jobId],
    ['updated', status.updatedAt],
  ];
  return rows
    .filter(([, value]) => value !== undefined)
    .map(([label, value]) => `${label.padEnd(16)} ${value}`)
    .join('\n');
}

export function statusCommand(): Command {
  return new Command('status')
    .description("Show a tenant's registrations: state, attempts, last failure, client id, secret id")
    .argument('<tenantId>', 'the tenant')
    .option('--fhir-base-url <url>', 'only the registration with this FHIR server')
    .option('--json', 'print JSON instead of text')
    .action(async (tenantId: string, options: { fhirBaseUrl?: string; json?: boolean }) => {
      const context = await openProducerContext(loadConfig());
      try {
        const statuses = options.fhirBaseUrl
          ? [await registrationStatus(context, tenantId, options.fhirBaseUrl)].filter((s) => s !== undefined)
          : await tenantStatuses(context, tenantId);
        if (statuses.length === 0) {
          process.stderr.write(
            `no registration for tenant ${tenantId}${options.fhirBaseUrl ? ` with ${options.fhirBaseUrl}` : ''}\n`,
          );
          throw new CommandFailed();
        }
        process.stdout.write(
          options.json
            ? `${JSON.stringify(statuses, null, 2)}\n`
            : `${statuses.map(describe).join('\n\n')}\n`,
        );
      } finally {
        await context.close();
      }
    });
}
