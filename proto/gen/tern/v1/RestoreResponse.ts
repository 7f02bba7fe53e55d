// Original file: proto/tern.proto

import type { Container as _tern_v1_Container, Container__Output as _tern_v1_Container__Output } from '../../tern/v1/Container';
import type { Long } from '@grpc/proto-loader';

export interface RestoreResponse {
  'container'?: (_tern_v1_Container | null);
  'restore_ms'?: (number | string | Long);
}

export interface RestoreResponse__Output {
  'container': (_tern_v1_Container__Output | null);
  'restore_ms': (string);
}
