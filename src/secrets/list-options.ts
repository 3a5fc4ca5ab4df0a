// The checks `list` applies in every adapter, so both refuse the same prefixes and page sizes.

import { ProvisioningError } from '../failures/index.js';
import { MAX_SECRET_NAME_LENGTH } from './secret-name.js';
import type { ListOptions } from './secret-store.js';

export const MAX_PAGE_SIZE = 100;

const PREFIX_CHARACTERS = /^[A-Za-z0-9/_+=.@-]*$/;

export function checkListOptions(prefix: string, options: ListOptions): { pageSize: number } {
  if (
    typeof prefix !== 'string' ||
    prefix.length > MAX_SECRET_NAME_LENGTH ||
    !PREFIX_CHARACTERS.test(prefix)
  ) {
    throw new ProvisioningError(
      'secret_store_rejected',
      `cannot list secrets: the prefix must be at most ${MAX_SECRET_NAME_LENGTH} of the characters A-Za-z0-9/_+=.@-`,
    );
  }
  const pageSize = options.pageSize ?? MAX_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new ProvisioningError(
      'secret_store_rejected',
      `cannot list secrets under ${prefix}: pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}`,
    );
  }
  return { pageSize };
}
