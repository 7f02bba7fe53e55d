// Original file: proto/tern.proto

import type { PhaseEvent as _tern_v1_PhaseEvent, PhaseEvent__Output as _tern_v1_PhaseEvent__Output } from '../../tern/v1/PhaseEvent';
import type { Long } from '@grpc/proto-loader';

export interface Migration {
  'id'?: (string);
  'container'?: (string);
  'from'?: (string);
  'to'?: (string);
  'phase'?: (string);
  'error'?: (string);
  'history'?: (_tern_v1_PhaseEvent)[];
  'started_ms'?: (number | string | Long);
  'finished_ms'?: (number | string | Long);
  'downtime_ms'?: (number | string | Long);
  'raw_bytes'?: (number | string | Long);
  'wire_bytes'?: (number | string | Long);
  'dump_ms'?: (number | string | Long);
  'transfer_ms'?: (number | string | Long);
  'restore_ms'?: (number | string | Long);
  'mode'?: (string);
  'memory_bytes'?: (number | string | Long);
  'rootfs_bytes'?: (number | string | Long);
  'image_bytes'?: (number | string | Long);
  'coordinator_bytes'?: (number | string | Long);
  'pages_moved_bytes'?: (number | string | Long);
  'pages_total_bytes'?: (number | string | Long);
  'pages_done_ms'?: (number | string | Long);
  'mode_reason'?: (string);
  'precopy_rounds'?: (number);
  'precopy_bytes'?: (number | string | Long);
  'progress_bytes'?: (number | string | Long);
  'ip'?: (string);
}

export interface Migration__Output {
  'id': (string);
  'container': (string);
  'from': (string);
  'to': (string);
  'phase': (string);
  'error': (string);
  'history': (_tern_v1_PhaseEvent__Output)[];
  'started_ms': (string);
  'finished_ms': (string);
  'downtime_ms': (string);
  'raw_bytes': (string);
  'wire_bytes': (string);
  'dump_ms': (string);
  'transfer_ms': (string);
  'restore_ms': (string);
  'mode': (string);
  'memory_bytes': (string);
  'rootfs_bytes': (string);
  'image_bytes': (string);
  'coordinator_bytes': (string);
  'pages_moved_bytes': (string);
  'pages_total_bytes': (string);
  'pages_done_ms': (string);
  'mode_reason': (string);
  'precopy_rounds': (number);
  'precopy_bytes': (string);
  'progress_bytes': (string);
  'ip': (string);
}
