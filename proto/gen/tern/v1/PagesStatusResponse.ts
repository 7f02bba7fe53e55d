// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface PagesStatusResponse {
  'done'?: (boolean);
  'moved_bytes'?: (number | string | Long);
  'lost'?: (boolean);
  'error'?: (string);
}

export interface PagesStatusResponse__Output {
  'done': (boolean);
  'moved_bytes': (string);
  'lost': (boolean);
  'error': (string);
}
