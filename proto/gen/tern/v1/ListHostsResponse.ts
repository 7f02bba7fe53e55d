// Original file: proto/tern.proto

import type { Host as _tern_v1_Host, Host__Output as _tern_v1_Host__Output } from '../../tern/v1/Host';

export interface ListHostsResponse {
  'hosts'?: (_tern_v1_Host)[];
}

export interface ListHostsResponse__Output {
  'hosts': (_tern_v1_Host__Output)[];
}
