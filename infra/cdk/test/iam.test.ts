// The task role may touch tenant credentials under SECRET_NAME_PREFIX only, with exactly the calls the
// service makes, and the credentials key only through Secrets Manager.

import { describe, expect, it } from 'vitest';
import { joined, only, type Resource, synth } from './support.js';

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const actions = (statement: Statement) => [statement.Action].flat().sort();

function taskRolePolicies(template: ReturnType<typeof synth>['template']) {
  const [taskRoleId, taskRole] = only(template, 'AWS::IAM::Role', {
    Description: 'dcr-provisioner tasks: tenant credentials under SECRET_NAME_PREFIX only',
  });
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
    ((policy as Resource).Properties.Roles as unknown[]).some(
      (role) => JSON.stringify(role) === JSON.stringify({ Ref: taskRoleId }),
    ),
  ) as Resource[];
  return { taskRole, policies };
}

function statementsOf(policies: Resource[]): Statement[] {
  return policies.flatMap(
    (policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
  );
}

describe('task role', () => {
  const { template } = synth();
  const { taskRole, policies } = taskRolePolicies(template);
  const statements = statementsOf(policies);
  const bySid = (sid: string) => {
    const found = statements.find((s) => s.Sid === sid);
    if (!found) throw new Error(`no statement ${sid}`);
    return found;
  };

  it('has one policy of four statements, no managed or inline policies', () => {
    expect(policies).toHaveLength(1);
    expect(statements.map((s) => s.Sid).sort()).toEqual([
      'CredentialsKeyViaSecretsManager',
      'ListSecrets',
      'QueueDepthMetric',
      'TenantCredentials',
    ]);
    expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
    expect(taskRole.Properties.ManagedPolicyArns).toBeUndefined();
    expect(taskRole.Properties.Policies).toBeUndefined();
  });

  it('allows exactly the Secrets Manager calls of the secret store, on secrets under the prefix', () => {
    const statement = bySid('TenantCredentials');
    expect(actions(statement)).toEqual(
      [
        'secretsmanager:CreateSecret',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:TagResource',
        'secretsmanager:UpdateSecretVersionStage',
      ].sort(),
    );
    expect(joined(statement.Resource)).toBe(
      'arn:{"Ref":"AWS::Partition"}:secretsmanager:{"Ref":"AWS::Region"}:{"Ref":"AWS::AccountId"}:secret:dcr/*',
    );
  });

  it('allows ListSecrets alone on *, as it has no resource-level permissions', () => {
    const statement = bySid('ListSecrets');
    expect(actions(statement)).toEqual(['secretsmanager:ListSecrets']);
    expect(statement.Resource).toBe('*');
  });

  it('allows PutMetricData only into the queue-depth namespace the scaling policy reads', () => {
    const statement = bySid('QueueDepthMetric');
    expect(actions(statement)).toEqual(['cloudwatch:PutMetricData']);
    expect(statement.Condition?.StringEquals?.['cloudwatch:namespace']).toBe('DcrProvisioner');
  });

  it('allows only GenerateDataKey and Decrypt on the credentials key, through Secrets Manager', () => {
    const statement = bySid('CredentialsKeyViaSecretsManager');
    expect(actions(statement)).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    const [keyId] = only(template, 'AWS::KMS::Key');
    expect(statement.Resource).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(joined(statement.Condition?.StringEquals?.['kms:ViaService'])).toBe(
      'secretsmanager.{"Ref":"AWS::Region"}.amazonaws.com',
    );
  });

  it('uses the secretNamePrefix given as context', () => {
    const custom = statementsOf(taskRolePolicies(synth({ secretNamePrefix: 'acme/dcr/' }).template).policies);
    const statement = custom.find((s) => s.Sid === 'TenantCredentials') as Statement;
    expect(joined(statement.Resource)).toMatch(/:secret:acme\/dcr\/\*$/);
    const prefixVariable = (c: { Environment?: Array<{ Name: string; Value: unknown }> }) =>
      c.Environment?.find((e) => e.Name === 'SECRET_NAME_PREFIX')?.Value;
    const tasks = Object.values(
      synth({ secretNamePrefix: 'acme/dcr/' }).template.findResources('AWS::ECS::TaskDefinition'),
    ) as Resource[];
    for (const task of tasks) {
      for (const c of task.Properties.ContainerDefinitions as Array<{ Environment?: [] }>) {
        expect(prefixVariable(c)).toBe('acme/dcr/');
      }
    }
  });

  it('grants no wildcard action to any role of the stack', () => {
    const all = statementsOf(Object.values(template.findResources('AWS::IAM::Policy')) as Resource[]);
    for (const statement of all) {
      for (const action of actions(statement)) expect(action).not.toMatch(/\*/);
    }
  });
});

describe('credentials key', () => {
  it('rotates and survives the deletion of the stack', () => {
    const [, key] = only(synth().template, 'AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
  });
});
