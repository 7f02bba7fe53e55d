// Original file: proto/tern.proto


export interface RegisterHostResponse {
  'heartbeat_ms'?: (number);
}

export interface RegisterHostResponse__Output {
  'heartbeat_ms': (number);
}
