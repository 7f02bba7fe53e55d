// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface EstimateResponse {
  'memory_bytes'?: (number | string | Long);
  'rootfs_bytes'?: (number | string | Long);
}

export interface EstimateResponse__Output {
  'memory_bytes': (string);
  'rootfs_bytes': (string);
}
