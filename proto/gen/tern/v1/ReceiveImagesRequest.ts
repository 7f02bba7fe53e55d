// Original file: proto/tern.proto


export interface ReceiveImagesRequest {
  'migration_id'?: (string);
  'coordinator'?: (string);
}

export interface ReceiveImagesRequest__Output {
  'migration_id': (string);
  'coordinator': (string);
}
