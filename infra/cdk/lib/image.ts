// The service image for the task definitions, from a URI given at synth time (no Docker needed, unlike
// ContainerImage.fromAsset). An ECR image is referenced as an ECR repository so that the execution
// role is granted the pull; any other registry must be public.

import { Aws } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { Construct } from 'constructs';
import { SettingsError } from './settings.js';

const ECR_IMAGE =
  /^(?<account>\d{12})\.dkr\.ecr\.(?<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/(?<repository>[a-z0-9][a-z0-9._/-]*)(?::(?<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?<digest>sha256:[a-f0-9]{64}))?$/;

export function serviceImage(scope: Construct, imageUri: string): ecs.ContainerImage {
  const ecrImage = ECR_IMAGE.exec(imageUri)?.groups;
  if (ecrImage === undefined) return ecs.ContainerImage.fromRegistry(imageUri);
  const { account, region, repository, tag, digest } = ecrImage;
  const tagOrDigest = tag ?? digest;
  if (tagOrDigest === undefined) {
    // ECS resolves a tag once per deployment; a moving `latest` would deploy whatever it was then.
    throw new SettingsError('imageUri', 'must name a tag or a digest for an ECR image (…/repo:1.2.3)');
  }
  const repo = ecr.Repository.fromRepositoryAttributes(scope, 'ImageRepository', {
    repositoryArn: `arn:${Aws.PARTITION}:ecr:${region}:${account}:repository/${repository}`,
    repositoryName: repository as string,
  });
  return ecs.ContainerImage.fromEcrRepository(repo, tagOrDigest);
}
