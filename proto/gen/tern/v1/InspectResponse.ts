// Original file: proto/tern.proto

import type { Finding as _tern_v1_Finding, Finding__Output as _tern_v1_Finding__Output } from '../../tern/v1/Finding';

export interface InspectResponse {
  'findings'?: (_tern_v1_Finding)[];
}

export interface InspectResponse__Output {
  'findings': (_tern_v1_Finding__Output)[];
}
