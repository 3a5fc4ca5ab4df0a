// `dcr-provisioner sandbox`: the demo's SMART authorization server alone (a real oidc-provider with
// SMART discovery, RFC 7591 registration and RFC 7592 management), on loopback, to try the API by hand.

import { Command, InvalidArgumentError } from 'commander';
import { startSmartServer } from '../sandbox/index.js';

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    throw new InvalidArgumentError('must be a port number from 0 to 65535');
  }
  return parsed;
}

export function sandboxCommand(): Command {
  return new Command('sandbox')
    .description('Run the sandbox SMART server on 127.0.0.1 until Ctrl-C')
    .option(
      '--port <port>',
      'port on 127.0.0.1 (0 = any free port)',
      port,
      Number(process.env.SANDBOX_PORT ?? 8090),
    )
    .option('--require-initial-access-token', 'registration needs an initial access token; one is printed')
    .action(async (options: { port: number; requireInitialAccessToken?: boolean }) => {
      const sandbox = await startSmartServer({
        port: options.port,
        ...(options.requireInitialAccessToken ? { initialAccessToken: true as const } : {}),
      });
      const lines = [
        `sandbox SMART server on ${sandbox.issuer}`,
        `  FHIR base URL          ${sandbox.fhirBaseUrl}`,
        `  discovery              ${sandbox.fhirBaseUrl}/.well-known/smart-configuration`,
        `  registration endpoint  ${sandbox.registrationEndpoint}`,
      ];
      if (options.requireInitialAccessToken) {
        lines.push(`  initial access token   ${await sandbox.issueInitialAccessToken({ singleUse: false })}`);
      }
      lines.push(
        'It speaks plain http on loopback: run dcr-provisioner with ALLOW_INSECURE_LOCALHOST=true. Ctrl-C to stop.',
      );
      process.stdout.write(`${lines.join('\n')}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await sandbox.close();
    });
}
