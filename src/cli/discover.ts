// `dcr-provisioner discover URL`: shows what a SMART server advertises, the way registration will see
// it — useful before onboarding a tenant against a new server.

import { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { createHttpClient, httpClientOptionsFromConfig } from '../http/index.js';
import { discover, supportsBackendServices, supportsDynamicRegistration } from '../smart/index.js';

export function discoverCommand(): Command {
  return new Command('discover')
    .description('Fetch and check the SMART configuration of a FHIR server (no registration)')
    .argument('<fhirBaseUrl>', 'the FHIR base URL, e.g. https://ehr.example/fhir/r4')
    .action(async (fhirBaseUrl: string) => {
      const http = createHttpClient(httpClientOptionsFromConfig(loadConfig()));
      try {
        const { configuration } = await discover(fhirBaseUrl, { http });
        const summary = {
          ...configuration,
          dynamicRegistration: supportsDynamicRegistration(configuration),
          backendServices: supportsBackendServices(configuration),
        };
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      } finally {
        http.close();
      }
    });
}
