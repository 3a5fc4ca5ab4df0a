// Bull Board for SREs at /admin/queues. Authentication is the caller's job (build-server puts the
// token check in front of this plugin); this module decides what the board may show and do: secrets
// redacted from everything it serves, and with BOARD_READ_ONLY every write refused by Bull Board itself.

import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { redactSecrets } from './redact.js';

export const BOARD_PATH = '/admin/queues';

export interface BoardOptions {
  queues: readonly Queue[];
  /**
   * BOARD_READ_ONLY. Bull Board's `readOnlyMode` answers 405 to retry, remove, clean, pause, add and
   * the other writes; `allowRetries: false` would only hide the buttons and leave the API open.
   */
  readOnly: boolean;
  /** The board's title in the browser. @defaultValue "dcr-provisioner" */
  title?: string;
}

function queueAdapter(queue: Queue, readOnly: boolean): BullMQAdapter {
  const adapter = new BullMQAdapter(queue, { readOnlyMode: readOnly });
  // Formatters cover every place Bull Board renders a job (list, detail, flow).
  adapter.setFormatter('data', redactSecrets);
  adapter.setFormatter('returnValue', redactSecrets);
  adapter.setFormatter('progress', redactSecrets);
  return adapter;
}

/**
 * Registers the board's pages and API on `scope` under BOARD_PATH. Register it inside an encapsulated
 * plugin whose onRequest hook checks credentials, so the hook guards the HTML, the static assets and
 * the API alike.
 */
export async function registerBoard(scope: FastifyInstance, options: BoardOptions): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: options.queues.map((queue) => queueAdapter(queue, options.readOnly)),
    // @bull-board/fastify pins its own copy of @bull-board/api one patch behind ours; the two types
    // differ only by declaration site (private fields), the adapter contract is the same.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: {
      uiConfig: { boardTitle: options.title ?? 'dcr-provisioner', hideDocsLink: true },
      handlerHooks: {
        // Formatters do not reach job options, scheduler templates or whatever a later Bull Board
        // adds to its responses; redacting each whole API response closes those gaps.
        after: (_context, result) => ({ ...result, body: redactSecrets(result.body) as typeof result.body }),
      },
    },
  });
  await scope.register(serverAdapter.registerPlugin());
}
