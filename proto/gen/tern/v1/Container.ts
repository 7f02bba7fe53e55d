// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface Container {
  'name'?: (string);
  'host'?: (string);
  'state'?: (string);
  'ip'?: (string);
  'mac'?: (string);
  'pid'?: (number);
  'veth'?: (string);
  'hostname'?: (string);
  'command'?: (string)[];
  'created_ms'?: (number | string | Long);
  'cap_add'?: (string)[];
  'no_seccomp'?: (boolean);
  'memory_limit'?: (number | string | Long);
  'pids_limit'?: (number);
}

export interface Container__Output {
  'name': (string);
  'host': (string);
  'state': (string);
  'ip': (string);
  'mac': (string);
  'pid': (number);
  'veth': (string);
  'hostname': (string);
  'command': (string)[];
  'created_ms': (string);
  'cap_add': (string)[];
  'no_seccomp': (boolean);
  'memory_limit': (string);
  'pids_limit': (number);
}
