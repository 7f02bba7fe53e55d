// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface ReceiveImagesResponse {
  'raw_bytes'?: (number | string | Long);
  'wire_bytes'?: (number | string | Long);
  'files'?: (number);
}

export interface ReceiveImagesResponse__Output {
  'raw_bytes': (string);
  'wire_bytes': (string);
  'files': (number);
}
