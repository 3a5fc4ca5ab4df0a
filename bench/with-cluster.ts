// Runs benchmarks against a Redis Cluster instead of the local standalone Redis: three spawned masters
// (the test suite's), or the seeds in BENCH_REDIS_URL. Each writes bench/results/<name>-cluster.json
// beside its standalone result. Usage: npx tsx bench/with-cluster.ts discovery-fan-in politeness
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startRedisCluster } from '../test/support/redis-cluster.js';

const names = process.argv.slice(2);
if (names.length === 0) {
  console.error('usage: npx tsx bench/with-cluster.ts <benchmark>...');
  process.exit(2);
}
const given = process.env.BENCH_REDIS_URL;
const cluster = given ? undefined : await startRedisCluster();
try {
  for (const name of names) {
    execFileSync('npx', ['tsx', path.join(import.meta.dirname, `${name}.ts`)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_REDIS_URL: given ?? cluster?.url, BENCH_REDIS_CLUSTER: '1' },
      timeout: 180_000,
    });
  }
} finally {
  await cluster?.stop();
}
