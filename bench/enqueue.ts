// enqueue: N requests through RegistrationProducer.enqueueMany (batches of 1,000: validation,
// deduplication lookups, addBulk with deduplication ids, registry records) vs a raw Queue.addBulk of
// the same payloads in the same batches. Target: enqueueMany >= 0.7 x raw. Env: N (default 10000).
import { benchPrefix, deleteKeys, round, writeResult } from './lib/common.js';
import { enqueueBare, enqueueOurs, requests } from './lib/pipelines.js';

const N = Number(process.env.N ?? '10000');
const BATCH = 1000;
const prefix = benchPrefix('enqueue');
const base = 'http://127.0.0.1:9/fhir'; // never contacted
try {
  // Warm-up, not measured.
  await enqueueBare(
    `${prefix}-warm-raw`,
    requests(1000, () => base, 'w'),
    BATCH,
  );
  await enqueueOurs(
    `${prefix}-warm-ours`,
    requests(1000, () => base, 'w'),
    BATCH,
  );

  const reqs = requests(N, () => base);
  let t = performance.now();
  const rawQueued = await enqueueBare(`${prefix}-raw`, reqs, BATCH);
  const rawSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const oursQueued = await enqueueOurs(`${prefix}-ours`, reqs, BATCH);
  const oursSeconds = (performance.now() - t) / 1000;

  const rawRate = rawQueued / rawSeconds;
  const oursRate = oursQueued / oursSeconds;
  const ratio = oursRate / rawRate;
  const result = {
    n: N,
    batch: BATCH,
    raw: { queued: rawQueued, seconds: round(rawSeconds, 3), perSecond: round(rawRate, 0) },
    enqueueMany: { queued: oursQueued, seconds: round(oursSeconds, 3), perSecond: round(oursRate, 0) },
    ratio: round(ratio, 3),
    target: '>= 0.7',
    met: ratio >= 0.7 && oursQueued === N,
  };
  writeResult('enqueue', result);
  console.log(
    `enqueue: raw addBulk ${result.raw.perSecond}/s, enqueueMany ${result.enqueueMany.perSecond}/s, ratio ${result.ratio} (target >= 0.7) ${result.met ? 'MET' : 'MISSED'}`,
  );
} finally {
  await deleteKeys(prefix);
}
process.exit(0);
