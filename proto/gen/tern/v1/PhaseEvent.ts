// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface PhaseEvent {
  'phase'?: (string);
  'at_ms'?: (number | string | Long);
  'detail'?: (string);
}

export interface PhaseEvent__Output {
  'phase': (string);
  'at_ms': (string);
  'detail': (string);
}
