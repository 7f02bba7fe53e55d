// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface Host {
  'name'?: (string);
  'address'?: (string);
  'up'?: (boolean);
  'last_seen_ms'?: (number | string | Long);
  'criu_version'?: (string);
  'kernel'?: (string);
  'containers'?: (number);
  'lan'?: (string);
  'data_address'?: (string);
  'cordoned'?: (boolean);
  'mem_available_bytes'?: (number | string | Long);
}

export interface Host__Output {
  'name': (string);
  'address': (string);
  'up': (boolean);
  'last_seen_ms': (string);
  'criu_version': (string);
  'kernel': (string);
  'containers': (number);
  'lan': (string);
  'data_address': (string);
  'cordoned': (boolean);
  'mem_available_bytes': (string);
}
