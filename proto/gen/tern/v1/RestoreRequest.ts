// Original file: proto/tern.proto

import type { Container as _tern_v1_Container, Container__Output as _tern_v1_Container__Output } from '../../tern/v1/Container';

export interface RestoreRequest {
  'migration_id'?: (string);
  'container'?: (_tern_v1_Container | null);
}

export interface RestoreRequest__Output {
  'migration_id': (string);
  'container': (_tern_v1_Container__Output | null);
}
