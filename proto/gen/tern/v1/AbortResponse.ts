// Original file: proto/tern.proto


export interface AbortResponse {
  'resumed_source'?: (boolean);
  'cleaned_target'?: (boolean);
}

export interface AbortResponse__Output {
  'resumed_source': (boolean);
  'cleaned_target': (boolean);
}
