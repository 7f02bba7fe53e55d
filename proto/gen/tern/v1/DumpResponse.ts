// Original file: proto/tern.proto

import type { Container as _tern_v1_Container, Container__Output as _tern_v1_Container__Output } from '../../tern/v1/Container';
import type { Long } from '@grpc/proto-loader';

export interface DumpResponse {
  'container'?: (_tern_v1_Container | null);
  'image_bytes'?: (number | string | Long);
  'image_files'?: (number);
  'frozen_at_ms'?: (number | string | Long);
  'dump_ms'?: (number | string | Long);
  'hold_until_ms'?: (number | string | Long);
  'pages_bytes'?: (number | string | Long);
}

export interface DumpResponse__Output {
  'container': (_tern_v1_Container__Output | null);
  'image_bytes': (string);
  'image_files': (number);
  'frozen_at_ms': (string);
  'dump_ms': (string);
  'hold_until_ms': (string);
  'pages_bytes': (string);
}
