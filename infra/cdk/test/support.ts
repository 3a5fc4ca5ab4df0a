// Builds the stack from context values, as `cdk synth -c key=value` does, and reads its template.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DcrProvisionerStack } from '../lib/dcr-provisioner-stack.js';
import { settingsFromContext } from '../lib/settings.js';

/** cdk.json's context (the feature flags above all), so the tests synthesise what `cdk synth` does. */
const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

// Cloud assemblies go under the run's directory (test/global-setup.ts), which is removed at the end.
const OUT_ROOT = process.env.CDK_TEST_OUT_ROOT ?? mkdtempSync(path.join(tmpdir(), 'dcr-cdk-test-'));
let synthesised = 0;

export const ECR_IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/dcr-provisioner:0.1.0';

export function synth(context: Record<string, string> = {}): {
  stack: DcrProvisionerStack;
  template: Template;
} {
  synthesised += 1;
  const app = new App({ context: CDK_JSON_CONTEXT, outdir: path.join(OUT_ROOT, String(synthesised)) });
  const all: Record<string, string> = { imageUri: ECR_IMAGE, ...context };
  const stack = new DcrProvisionerStack(app, 'Test', { settings: settingsFromContext((key) => all[key]) });
  return { stack, template: Template.fromStack(stack) };
}

export type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

/** The one resource of a type matching the properties, with its logical id. */
export function only(
  template: Template,
  type: string,
  props: Record<string, unknown> = {},
): [string, Resource] {
  const found = Object.entries(template.findResources(type, { Properties: props })) as Array<
    [string, Resource]
  >;
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as [string, Resource];
}

export interface ContainerDefinition {
  Name: string;
  User?: string;
  ReadonlyRootFilesystem?: boolean;
  Command?: string[];
  Environment?: Array<{ Name: string; Value: unknown }>;
  Secrets?: Array<{ Name: string; ValueFrom: unknown }>;
  LogConfiguration?: { Options: Record<string, unknown> };
}

export function containers(template: Template): ContainerDefinition[] {
  return Object.values(template.findResources('AWS::ECS::TaskDefinition')).flatMap(
    (task) => (task as Resource).Properties.ContainerDefinitions as ContainerDefinition[],
  );
}

export function container(template: Template, name: string): ContainerDefinition {
  const found = containers(template).find((c) => c.Name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
}

/** The literal text of an Fn::Join of strings and references (references shown as {Ref}). */
export function joined(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return JSON.stringify(value);
  return join[1].map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join(join[0]);
}
