// Original file: proto/tern.proto


export interface PagesStatusRequest {
  'migration_id'?: (string);
  'wait_ms'?: (number);
}

export interface PagesStatusRequest__Output {
  'migration_id': (string);
  'wait_ms': (number);
}
