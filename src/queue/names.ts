// Names other processes and dashboards depend on: the queue and the job names in it.

export const REGISTRATION_QUEUE = 'registrations';

export const JOB_NAMES = {
  registerClient: 'register-client',
  /** Re-registration of an existing registration (scheduled, or asked for). */
  rotateClient: 'rotate-client',
  /** The delayed RFC 7592 delete of a client a rotation replaced. */
  deleteClient: 'delete-client',
  /** The delayed RFC 7592 update that drops a rotated-out inline key once the rotation grace has passed. */
  retireKey: 'retire-key',
  /** The periodic search for registrations due for rotation. */
  sweepRegistrations: 'sweep-registrations',
} as const;

/** The job scheduler (BullMQ `upsertJobScheduler`) that runs the sweep. */
export const ROTATION_SWEEP_SCHEDULER = 'rotation-sweep';
