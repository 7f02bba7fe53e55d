// Original file: proto/tern.proto


export interface StartMigrationRequest {
  'container'?: (string);
  'from'?: (string);
  'to'?: (string);
  'mode'?: (string);
}

export interface StartMigrationRequest__Output {
  'container': (string);
  'from': (string);
  'to': (string);
  'mode': (string);
}
