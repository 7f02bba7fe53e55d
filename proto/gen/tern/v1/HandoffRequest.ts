// Original file: proto/tern.proto


export interface HandoffRequest {
  'migration_id'?: (string);
}

export interface HandoffRequest__Output {
  'migration_id': (string);
}
