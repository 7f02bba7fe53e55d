// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface EvacuateEvent {
  'container'?: (string);
  'to'?: (string);
  'migration_id'?: (string);
  'outcome'?: (string);
  'error'?: (string);
  'downtime_ms'?: (number | string | Long);
  'end'?: (boolean);
  'moved'?: (number);
  'left'?: (number);
}

export interface EvacuateEvent__Output {
  'container': (string);
  'to': (string);
  'migration_id': (string);
  'outcome': (string);
  'error': (string);
  'downtime_ms': (string);
  'end': (boolean);
  'moved': (number);
  'left': (number);
}
