// Original file: proto/tern.proto

import type { Long } from '@grpc/proto-loader';

export interface ImageChunk {
  'file'?: (string);
  'offset'?: (number | string | Long);
  'raw_length'?: (number);
  'data'?: (Buffer | Uint8Array | string);
  'compressed'?: (boolean);
  'crc32'?: (number);
  'eof'?: (boolean);
  'size'?: (number | string | Long);
  'sha256'?: (string);
  'end'?: (boolean);
  'file_count'?: (number);
  'source_gone'?: (boolean);
}

export interface ImageChunk__Output {
  'file': (string);
  'offset': (string);
  'raw_length': (number);
  'data': (Buffer);
  'compressed': (boolean);
  'crc32': (number);
  'eof': (boolean);
  'size': (string);
  'sha256': (string);
  'end': (boolean);
  'file_count': (number);
  'source_gone': (boolean);
}
