// Bull Board in a real browser, as an SRE meets it: Debian's Chromium driven by playwright-core against a
// listening server over a real pipeline. Refused without credentials; with basic auth it shows the
// registrations queue and a failed job with its failure code; and no secret of the run is anywhere in
// what the browser received.

import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../src/dcr/index.js';
import { buildServer, type RunningServer, startServer } from '../../src/server/index.js';
import { type StubServer, startStubServer } from '../fixtures/stub-server.js';
import { type Pipeline, startPipeline } from '../integration/pipeline/harness.js';
import { TEST_TOKEN } from '../integration/server/server-harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = '/tmp/board.png';

const secrets = {
  clientSecret: `top-secret-${randomUUID()}`,
  registrationAccessToken: `rat-${randomUUID()}`,
  initialAccessToken: `iat-${randomUUID()}`,
};

let pipeline: Pipeline;
let stub: StubServer;
let server: RunningServer;
let browser: Browser;

async function chromiumOrFail(): Promise<string> {
  try {
    await access(CHROMIUM, constants.X_OK);
    return CHROMIUM;
  } catch {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}. The dashboard test needs a real browser: install ` +
        "Debian's chromium (sudo apt-get install -y --no-install-recommends chromium) or set CHROMIUM_PATH " +
        'to a Chromium executable.',
    );
  }
}

beforeAll(async () => {
  const executablePath = await chromiumOrFail();
  [pipeline, stub] = await Promise.all([
    startPipeline('browser-board', { API_TOKEN: TEST_TOKEN, JOB_ATTEMPTS: '1' }),
    startStubServer(),
  ]);
  stub.on('POST', '/register/browser-ok', {
    status: 201,
    json: {
      client_id: 'browser-client-ok',
      client_secret: secrets.clientSecret,
      client_secret_expires_at: 0,
      registration_access_token: secrets.registrationAccessToken,
      registration_client_uri: stub.url('/register/browser-ok/browser-client-ok'),
    },
  });
  stub.on('POST', '/register/browser-refused', {
    status: 400,
    json: { error: 'invalid_redirect_uri', error_description: 'redirect_uris must use https' },
  });
  await pipeline.startWorker();
  const request = (tenantId: string, extra: Record<string, unknown> = {}) => ({
    tenantId,
    fhirBaseUrl: stub.url(`/fhir/${tenantId}`),
    registrationEndpoint: stub.url(`/register/${tenantId}`),
    clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
    ...extra,
  });
  const [ok, refused] = await pipeline.producer.enqueueMany([
    request('browser-ok', { initialAccessToken: { value: secrets.initialAccessToken } }),
    request('browser-refused'),
  ]);
  if (ok?.status !== 'queued' || refused?.status !== 'queued') throw new Error('could not enqueue the jobs');
  expect((await pipeline.waitForJob(ok.jobId)).state).toBe('completed');
  const failed = await pipeline.waitForJob(refused.jobId);
  expect(failed.failedReason).toMatch(/^invalid_redirect_uri: /);

  const app = await buildServer({
    config: pipeline.config,
    producer: pipeline.producer,
    status: pipeline,
    redis: pipeline.redis,
    logger: false,
  });
  server = await startServer(app, { host: '127.0.0.1', port: 0 });
  // launch() gives every run a fresh temporary profile (its own --user-data-dir, removed on close);
  // Playwright refuses --user-data-dir in args for that reason.
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await pipeline?.close();
  await stub?.close();
});

/** What a person sees on the page (rendered text, scripts and hidden elements excluded). */
function visibleText(page: Page): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText, not the DOM property; rendered text is the point.
  return page.locator('body').innerText();
}

/** Records the body of every response the page receives from the board's API. */
function recordApiResponses(page: Page): { bodies: Promise<string>[] } {
  const bodies: Promise<string>[] = [];
  page.on('response', (response) => {
    if (new URL(response.url()).pathname.startsWith('/admin/queues/api/')) {
      bodies.push(response.text().catch(() => ''));
    }
  });
  return { bodies };
}

describe('Bull Board in Chromium', () => {
  it('without credentials answers 401 and shows no queue', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const statuses: number[] = [];
      page.on('response', (response) => statuses.push(response.status()));
      // Headless Chromium has nobody to ask for a password: it gives up on the Basic challenge and
      // ends the navigation with ERR_INVALID_AUTH_CREDENTIALS after receiving the 401.
      const navigation = await page.goto(`${server.url}/admin/queues`).then(
        (response) => ({ status: response?.status(), error: undefined }),
        (err: Error) => ({ status: undefined, error: err.message }),
      );
      if (navigation.error) expect(navigation.error).toContain('ERR_INVALID_AUTH_CREDENTIALS');
      else expect(navigation.status).toBe(401);
      expect(statuses).toEqual([401]);
      expect(await visibleText(page)).not.toContain('registrations');
      // The board's API, as the page's scripts would call it, is refused too.
      const api = await context.request.get(`${server.url}/admin/queues/api/queues`);
      expect(api.status()).toBe(401);
      expect(api.headers()['www-authenticate']).toMatch(/^Basic /);
      expect(await api.json()).toEqual({ error: 'unauthorized' });
    } finally {
      await context.close();
    }
  });

  it('with basic auth shows the registrations queue and the failed job with its code, and no secret', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: 'sre', password: TEST_TOKEN },
      viewport: { width: 1400, height: 900 },
    });
    try {
      const page = await context.newPage();
      const api = recordApiResponses(page);
      const pages: string[] = [];

      const overview = await page.goto(`${server.url}/admin/queues`);
      expect(overview?.status()).toBe(200);
      await page.getByText('registrations').first().waitFor({ timeout: 15_000 });
      pages.push(await page.content(), await visibleText(page));

      await page.goto(`${server.url}/admin/queues/queue/registrations?status=failed`);
      await page.getByText('invalid_redirect_uri').first().waitFor({ timeout: 15_000 });
      const failedText = await visibleText(page);
      expect(failedText).toMatch(/invalid_redirect_uri: /);
      pages.push(await page.content(), failedText);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      await page.goto(`${server.url}/admin/queues/queue/registrations?status=completed`);
      await page.getByText('register-client').first().waitFor({ timeout: 15_000 });
      pages.push(await page.content(), await visibleText(page));

      const bodies = await Promise.all(api.bodies);
      expect(bodies.length).toBeGreaterThan(0);
      const received = [...pages, ...bodies].join('\n');
      // The board did fetch the completed job (its client id is there), just none of the secrets.
      expect(bodies.join('\n')).toContain('browser-client-ok');
      for (const [name, value] of Object.entries(secrets)) {
        expect(received.includes(value), `${name} appears in the board`).toBe(false);
      }
    } finally {
      await context.close();
    }
  });
});
