// A Redis outage makes BullMQ and ioredis report the same error many times a second (every reconnect,
// every blocked command). One line per interval, with how many were held back, keeps the log readable
// and cheap while still saying the trouble goes on.

export type RepeatedErrorReport = (err: Error, suppressed: number) => void;

/** Calls `report` for the first error and then at most once per `intervalMs`, counting the rest. */
export function atMostEvery(
  intervalMs: number,
  report: RepeatedErrorReport,
  now: () => number = Date.now,
): (err: Error) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (err) => {
    const at = now();
    if (at - lastAt < intervalMs) {
      suppressed += 1;
      return;
    }
    report(err, suppressed);
    lastAt = at;
    suppressed = 0;
  };
}
