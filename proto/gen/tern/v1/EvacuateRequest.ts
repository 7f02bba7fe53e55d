// Original file: proto/tern.proto


export interface EvacuateRequest {
  'host'?: (string);
}

export interface EvacuateRequest__Output {
  'host': (string);
}
