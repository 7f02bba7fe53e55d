// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface ReceiveImagesRequest {
  'migration_id'?: (string);
  'max_bytes'?: (number | string | Long);
  'stall_ms'?: (number);
  'source_data'?: (string);
  'pages_bytes'?: (number | string | Long);
  'round_bytes'?: (number | string | Long)[];
}

export interface ReceiveImagesRequest__Output {
  'migration_id': (string);
  'max_bytes': (string);
  'stall_ms': (number);
  'source_data': (string);
  'pages_bytes': (string);
  'round_bytes': (string)[];
}
