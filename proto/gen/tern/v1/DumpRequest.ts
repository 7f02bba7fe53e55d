// Original file: proto/tern.proto


export interface DumpRequest {
  'migration_id'?: (string);
  'name'?: (string);
  'credential'?: (string);
  'pages_to'?: (string);
  'target_host'?: (string);
  'postcopy'?: (boolean);
  'precopy_rounds'?: (number);
  'empty_net'?: (boolean);
}

export interface DumpRequest__Output {
  'migration_id': (string);
  'name': (string);
  'credential': (string);
  'pages_to': (string);
  'target_host': (string);
  'postcopy': (boolean);
  'precopy_rounds': (number);
  'empty_net': (boolean);
}
