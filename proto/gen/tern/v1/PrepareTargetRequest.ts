// Original file: proto/tern.proto

import type { Container as _tern_v1_Container, Container__Output as _tern_v1_Container__Output } from '../../tern/v1/Container';
import type { Long } from '@grpc/proto-loader';

export interface PrepareTargetRequest {
  'migration_id'?: (string);
  'container'?: (_tern_v1_Container | null);
  'image_bytes_estimate'?: (number | string | Long);
  'source_cpuinfo_b64'?: (string);
  'credential'?: (string);
  'source_host'?: (string);
  'postcopy'?: (boolean);
  'empty_net'?: (boolean);
}

export interface PrepareTargetRequest__Output {
  'migration_id': (string);
  'container': (_tern_v1_Container__Output | null);
  'image_bytes_estimate': (string);
  'source_cpuinfo_b64': (string);
  'credential': (string);
  'source_host': (string);
  'postcopy': (boolean);
  'empty_net': (boolean);
}
