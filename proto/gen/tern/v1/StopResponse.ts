// Original file: proto/tern.proto


export interface StopResponse {
  'stopped'?: (boolean);
}

export interface StopResponse__Output {
  'stopped': (boolean);
}
