// `dcr-provisioner check-metadata FILE`: runs the local metadata rules on a JSON file and lists every
// problem with its path, so a request can be fixed before it is ever queued.

import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { checkClientMetadata } from '../dcr/index.js';
import { CommandFailed, UsageError } from './cli-errors.js';

export function checkMetadataCommand(): Command {
  return new Command('check-metadata')
    .description('Check RFC 7591 client metadata in a JSON file against the local rules')
    .argument('<file>', 'a JSON file holding the client metadata')
    .action(async (file: string) => {
      let input: unknown;
      try {
        input = JSON.parse(await readFile(file, 'utf8'));
      } catch (err) {
        const reason = err instanceof SyntaxError ? 'is not valid JSON' : 'cannot be read';
        throw new UsageError(`${file} ${reason}`);
      }
      const result = checkClientMetadata(input);
      if (result.ok) {
        process.stdout.write(`${file}: metadata is valid\n`);
        return;
      }
      for (const issue of result.issues) {
        process.stdout.write(`${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}\n`);
      }
      process.stderr.write(`${result.issues.length} problem(s) in ${file}\n`);
      throw new CommandFailed();
    });
}
