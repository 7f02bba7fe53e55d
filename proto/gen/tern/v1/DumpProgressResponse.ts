// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface DumpProgressResponse {
  'pages_bytes'?: (number | string | Long);
}

export interface DumpProgressResponse__Output {
  'pages_bytes': (string);
}
