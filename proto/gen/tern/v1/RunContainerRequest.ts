// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface RunContainerRequest {
  'name'?: (string);
  'command'?: (string)[];
  'ip'?: (string);
  'rootfs'?: (string);
  'hostname'?: (string);
  'env'?: (string)[];
  'cap_add'?: (string)[];
  'no_seccomp'?: (boolean);
  'memory_limit'?: (number | string | Long);
  'pids_limit'?: (number);
}

export interface RunContainerRequest__Output {
  'name': (string);
  'command': (string)[];
  'ip': (string);
  'rootfs': (string);
  'hostname': (string);
  'env': (string)[];
  'cap_add': (string)[];
  'no_seccomp': (boolean);
  'memory_limit': (string);
  'pids_limit': (number);
}
