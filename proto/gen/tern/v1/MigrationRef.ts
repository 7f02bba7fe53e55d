// Original file: proto/tern.proto


export interface MigrationRef {
  'id'?: (string);
}

export interface MigrationRef__Output {
  'id': (string);
}
