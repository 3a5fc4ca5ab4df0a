// The API's load balancer: internal unless asked, HTTPS when given a certificate, and only the ALB may
// reach the API tasks.

import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { only, synth } from './support.js';

const CERTIFICATE = 'arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000';

describe('API load balancer', () => {
  it('is internal and reachable from the VPC by default', () => {
    const { template } = synth();
    const [, alb] = only(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(alb.Properties.Scheme).toBe('internal');
    const [, group] = only(template, 'AWS::EC2::SecurityGroup', {
      GroupDescription: 'dcr-provisioner API load balancer',
    });
    const ingress = group.Properties.SecurityGroupIngress as Array<Record<string, unknown>>;
    expect(ingress).toHaveLength(1);
    expect(ingress[0]?.CidrIp).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Vpc/), 'CidrBlock'] });
  });

  it('listens on HTTPS with the certificate given, and on nothing else', () => {
    const { template } = synth({ certificateArn: CERTIFICATE });
    const [, listener] = only(template, 'AWS::ElasticLoadBalancingV2::Listener');
    expect(listener.Properties).toMatchObject({
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: CERTIFICATE }],
    });
  });

  it('warns when it has to listen on plain HTTP', () => {
    const { stack, template } = synth();
    const [, listener] = only(template, 'AWS::ElasticLoadBalancingV2::Listener');
    expect(listener.Properties).toMatchObject({ Port: 80, Protocol: 'HTTP' });
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('plain HTTP'));
  });

  it('is internet-facing only when asked, then open to the CIDR given', () => {
    const { template } = synth({ internetFacing: 'true', ingressCidr: '203.0.113.0/24' });
    const [, alb] = only(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(alb.Properties.Scheme).toBe('internet-facing');
    const [, group] = only(template, 'AWS::EC2::SecurityGroup', {
      GroupDescription: 'dcr-provisioner API load balancer',
    });
    expect(group.Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ CidrIp: '203.0.113.0/24', FromPort: 80, ToPort: 80 }),
    ]);
  });

  it('checks the targets on /healthz, port 3000', () => {
    const { template } = synth();
    const [, targets] = only(template, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(targets.Properties).toMatchObject({ Port: 3000, HealthCheckPath: '/healthz', TargetType: 'ip' });
  });

  it('does not forward /metrics, which answers without credentials', () => {
    const { template } = synth();
    const [, rule] = only(template, 'AWS::ElasticLoadBalancingV2::ListenerRule');
    expect(rule.Properties).toMatchObject({
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/metrics', '/metrics/*'] } }],
      Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }],
    });
  });

  it('lets only the load balancer reach the API tasks', () => {
    const { template } = synth();
    const [apiGroupId] = only(template, 'AWS::EC2::SecurityGroup', {
      GroupDescription: 'dcr-provisioner API tasks: inbound from the load balancer only',
    });
    const [albGroupId] = only(template, 'AWS::EC2::SecurityGroup', {
      GroupDescription: 'dcr-provisioner API load balancer',
    });
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r) => (r as { Properties: Record<string, unknown> }).Properties)
      .filter((p) => JSON.stringify(p.GroupId) === JSON.stringify({ 'Fn::GetAtt': [apiGroupId, 'GroupId'] }));
    expect(ingress).toEqual([
      expect.objectContaining({
        FromPort: 3000,
        ToPort: 3000,
        SourceSecurityGroupId: { 'Fn::GetAtt': [albGroupId, 'GroupId'] },
      }),
    ]);
  });
});
