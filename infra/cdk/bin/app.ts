#!/usr/bin/env node
// The CDK app: `npx cdk synth -c imageUri=<image>` (offline, no AWS credentials needed) or
// `npx cdk deploy -c imageUri=<image> [-c certificateArn=...]`. The stack is environment-agnostic (no
// `env`): an account/region here would make the CDK look up availability zones over the network.

import { App } from 'aws-cdk-lib';
import { DcrProvisionerStack } from '../lib/dcr-provisioner-stack.js';
import { SettingsError, settingsFromContext } from '../lib/settings.js';

const app = new App();
try {
  const settings = settingsFromContext((key) => app.node.tryGetContext(key));
  new DcrProvisionerStack(app, app.node.tryGetContext('stackName') ?? 'DcrProvisioner', {
    settings,
    description: 'dcr-provisioner: OAuth client registration workers and API (ECS Fargate, ElastiCache)',
  });
} catch (err) {
  if (!(err instanceof SettingsError)) throw err;
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(2);
}
app.synth();
