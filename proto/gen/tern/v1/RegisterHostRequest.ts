// Original file: proto/tern.proto

import type { Container as _tern_v1_Container, Container__Output as _tern_v1_Container__Output } from '../../tern/v1/Container';
import type { Long } from '@grpc/proto-loader';

export interface RegisterHostRequest {
  'name'?: (string);
  'address'?: (string);
  'criu_version'?: (string);
  'kernel'?: (string);
  'containers'?: (_tern_v1_Container)[];
  'lan'?: (string);
  'bridge'?: (string);
  'migrations'?: (string)[];
  'data_address'?: (string);
  'mem_available_bytes'?: (number | string | Long);
}

export interface RegisterHostRequest__Output {
  'name': (string);
  'address': (string);
  'criu_version': (string);
  'kernel': (string);
  'containers': (_tern_v1_Container__Output)[];
  'lan': (string);
  'bridge': (string);
  'migrations': (string)[];
  'data_address': (string);
  'mem_available_bytes': (string);
}
