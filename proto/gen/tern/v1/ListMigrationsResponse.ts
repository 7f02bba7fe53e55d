// Original file: proto/tern.proto

import type { Migration as _tern_v1_Migration, Migration__Output as _tern_v1_Migration__Output } from '../../tern/v1/Migration';

export interface ListMigrationsResponse {
  'migrations'?: (_tern_v1_Migration)[];
}

export interface ListMigrationsResponse__Output {
  'migrations': (_tern_v1_Migration__Output)[];
}
