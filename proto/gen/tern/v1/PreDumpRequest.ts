// Original file: proto/tern.proto


export interface PreDumpRequest {
  'migration_id'?: (string);
  'name'?: (string);
  'credential'?: (string);
  'pages_to'?: (string);
  'target_host'?: (string);
  'round'?: (number);
}

export interface PreDumpRequest__Output {
  'migration_id': (string);
  'name': (string);
  'credential': (string);
  'pages_to': (string);
  'target_host': (string);
  'round': (number);
}
