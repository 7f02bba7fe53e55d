// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface ReceiveRootfsRequest {
  'migration_id'?: (string);
  'source_data'?: (string);
  'stall_ms'?: (number);
  'max_bytes'?: (number | string | Long);
}

export interface ReceiveRootfsRequest__Output {
  'migration_id': (string);
  'source_data': (string);
  'stall_ms': (number);
  'max_bytes': (string);
}
