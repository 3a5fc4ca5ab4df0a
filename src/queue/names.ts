// Names other processes and dashboards depend on: the queue and the job names in it.

export const REGISTRATION_QUEUE = 'registrations';

export const JOB_NAMES = {
  registerClient: 'register-client',
} as const;
