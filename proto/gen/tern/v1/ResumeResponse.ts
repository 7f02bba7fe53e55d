// Original file: proto/tern.proto

import type { Container as _tern_v1_Container, Container__Output as _tern_v1_Container__Output } from '../../tern/v1/Container';

export interface ResumeResponse {
  'container'?: (_tern_v1_Container | null);
}

export interface ResumeResponse__Output {
  'container': (_tern_v1_Container__Output | null);
}
