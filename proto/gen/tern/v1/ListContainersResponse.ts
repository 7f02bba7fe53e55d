// Original file: proto/tern.proto

import type { Container as _tern_v1_Container, Container__Output as _tern_v1_Container__Output } from '../../tern/v1/Container';

export interface ListContainersResponse {
  'containers'?: (_tern_v1_Container)[];
}

export interface ListContainersResponse__Output {
  'containers': (_tern_v1_Container__Output)[];
}
