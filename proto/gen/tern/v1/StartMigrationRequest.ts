// Original file: proto/tern.proto


export interface StartMigrationRequest {
  'container'?: (string);
  'from'?: (string);
  'to'?: (string);
  'mode'?: (string);
  'max_downtime_ms'?: (number);
  'allow_postcopy'?: (boolean);
}

export interface StartMigrationRequest__Output {
  'container': (string);
  'from': (string);
  'to': (string);
  'mode': (string);
  'max_downtime_ms': (number);
  'allow_postcopy': (boolean);
}
