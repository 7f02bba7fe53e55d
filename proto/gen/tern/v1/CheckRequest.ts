// Original file: proto/tern.proto


export interface CheckRequest {
  'postcopy'?: (boolean);
  'precopy'?: (boolean);
}

export interface CheckRequest__Output {
  'postcopy': (boolean);
  'precopy': (boolean);
}
