// The User-Agent every outbound request carries: `dcr-provisioner/<version>`, so server operators can
// tell our traffic apart and report problems against a release.

import { productVersion } from '../version.js';

const PACKAGE_NAME = 'dcr-provisioner';

export function defaultUserAgent(): string {
  const version = productVersion();
  return version === undefined ? PACKAGE_NAME : `${PACKAGE_NAME}/${version}`;
}
