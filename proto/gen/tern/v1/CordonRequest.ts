// Original file: proto/tern.proto


export interface CordonRequest {
  'host'?: (string);
  'cordoned'?: (boolean);
}

export interface CordonRequest__Output {
  'host': (string);
  'cordoned': (boolean);
}
