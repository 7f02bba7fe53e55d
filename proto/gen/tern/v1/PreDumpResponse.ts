// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface PreDumpResponse {
  'pages_bytes'?: (number | string | Long);
  'ms'?: (number | string | Long);
  'frozen_ms'?: (number | string | Long);
}

export interface PreDumpResponse__Output {
  'pages_bytes': (string);
  'ms': (string);
  'frozen_ms': (string);
}
