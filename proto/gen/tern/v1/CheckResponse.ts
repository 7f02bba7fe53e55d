// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface CheckResponse {
  'host'?: (string);
  'criu_version'?: (string);
  'kernel'?: (string);
  'criu_ok'?: (boolean);
  'criu_error'?: (string);
  'free_bytes'?: (number | string | Long);
  'bridge'?: (string);
  'cpuinfo_b64'?: (string);
  'postcopy_error'?: (string);
  'precopy_error'?: (string);
  'tern_version'?: (string);
  'wires_netns'?: (boolean);
}

export interface CheckResponse__Output {
  'host': (string);
  'criu_version': (string);
  'kernel': (string);
  'criu_ok': (boolean);
  'criu_error': (string);
  'free_bytes': (string);
  'bridge': (string);
  'cpuinfo_b64': (string);
  'postcopy_error': (string);
  'precopy_error': (string);
  'tern_version': (string);
  'wires_netns': (boolean);
}
