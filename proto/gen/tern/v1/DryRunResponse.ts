// Original file: proto/tern.proto

import type { Finding as _tern_v1_Finding, Finding__Output as _tern_v1_Finding__Output } from '../../tern/v1/Finding';
import type { Long } from '@grpc/proto-loader';

export interface DryRunResponse {
  'ok'?: (boolean);
  'findings'?: (_tern_v1_Finding)[];
  'mode'?: (string);
  'mode_reason'?: (string);
  'memory_bytes'?: (number | string | Long);
  'rootfs_bytes'?: (number | string | Long);
}

export interface DryRunResponse__Output {
  'ok': (boolean);
  'findings': (_tern_v1_Finding__Output)[];
  'mode': (string);
  'mode_reason': (string);
  'memory_bytes': (string);
  'rootfs_bytes': (string);
}
