// Original file: proto/tern.proto


export interface ReadImagesRequest {
  'migration_id'?: (string);
}

export interface ReadImagesRequest__Output {
  'migration_id': (string);
}
