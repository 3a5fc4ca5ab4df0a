// `dcr-provisioner reindex`: rebuilds the registry of managed registrations in Redis from the secret
// store, the source of truth, e.g. after Redis lost its data. Progress on stderr, a summary (and the
// secrets skipped, with why) on stdout. Skipped secrets are reported, not a failure: a prefix shared
// with other software may hold anything.

import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { type ReindexOutcome, reindexRegistry } from '../provisioning/index.js';
import { openProducerConnection } from '../queue/index.js';
import { PublishedKeys, RegistrationRegistry } from '../registry/index.js';
import { createSecretStore } from '../secrets/index.js';

function summary(outcome: ReindexOutcome, prefix: string): string {
  const lines = [
    `scanned ${outcome.scanned} secrets under "${prefix}": indexed ${outcome.indexed}, skipped ${outcome.skippedTotal}`,
    ...outcome.skipped.map(({ secretId, reason }) => `skipped ${secretId}: ${reason}`),
  ];
  const unlisted = outcome.skippedTotal - outcome.skipped.length;
  if (unlisted > 0) lines.push(`and ${unlisted} more skipped`);
  return `${lines.join('\n')}\n`;
}

export function reindexCommand(): Command {
  return new Command('reindex')
    .description('Rebuild the registry of managed registrations from the secret store (the source of truth)')
    .option('--json', 'print the summary as JSON')
    .action(async (options: { json?: boolean }) => {
      const config = loadConfig();
      const redis = await openProducerConnection(config);
      const secretStore = createSecretStore(config);
      const bar = new SingleBar({
        format: 'reindex [{bar}] {value}/{total} secrets, {indexed} indexed, {skipped} skipped',
        stream: process.stderr,
        noTTYOutput: true,
        notTTYSchedule: 2000,
        // The total grows page by page and starts at 0, which must not read as done.
        emptyOnZero: true,
      });
      bar.start(0, 0, { indexed: 0, skipped: 0 });
      try {
        const outcome = await reindexRegistry(
          {
            secretStore,
            registry: new RegistrationRegistry({ redis, prefix: config.QUEUE_PREFIX }),
            publishedKeys: new PublishedKeys({ redis, prefix: config.QUEUE_PREFIX }),
            secretNamePrefix: config.SECRET_NAME_PREFIX,
          },
          ({ listed, scanned, indexed, skipped }) => {
            bar.setTotal(listed);
            bar.update(scanned, { indexed, skipped });
          },
        );
        bar.stop();
        process.stdout.write(
          options.json
            ? `${JSON.stringify({ secretNamePrefix: config.SECRET_NAME_PREFIX, ...outcome }, null, 2)}\n`
            : summary(outcome, config.SECRET_NAME_PREFIX),
        );
      } finally {
        bar.stop();
        await secretStore.close();
        redis.disconnect();
      }
    });
}
