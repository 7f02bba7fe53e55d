// Original file: proto/tern.proto


export interface PrepareSourceRequest {
  'migration_id'?: (string);
  'name'?: (string);
  'credential'?: (string);
  'target_host'?: (string);
}

export interface PrepareSourceRequest__Output {
  'migration_id': (string);
  'name': (string);
  'credential': (string);
  'target_host': (string);
}
