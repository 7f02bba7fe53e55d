// Original file: proto/tern.proto


export interface PrepareTargetResponse {
  'veth'?: (string);
}

export interface PrepareTargetResponse__Output {
  'veth': (string);
}
