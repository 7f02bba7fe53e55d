// Original file: proto/tern.proto

import type { Container as _tern_v1_Container, Container__Output as _tern_v1_Container__Output } from '../../tern/v1/Container';
import type { Long } from '@grpc/proto-loader';

export interface HeartbeatRequest {
  'name'?: (string);
  'containers'?: (_tern_v1_Container)[];
  'migrations'?: (string)[];
  'mem_available_bytes'?: (number | string | Long);
}

export interface HeartbeatRequest__Output {
  'name': (string);
  'containers': (_tern_v1_Container__Output)[];
  'migrations': (string)[];
  'mem_available_bytes': (string);
}
