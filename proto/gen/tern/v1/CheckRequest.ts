// Original file: proto/tern.proto


export interface CheckRequest {
  'postcopy'?: (boolean);
}

export interface CheckRequest__Output {
  'postcopy': (boolean);
}
