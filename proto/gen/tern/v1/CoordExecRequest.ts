// Original file: proto/tern.proto


export interface CoordExecRequest {
  'name'?: (string);
  'command'?: (string)[];
  'timeout_ms'?: (number);
}

export interface CoordExecRequest__Output {
  'name': (string);
  'command': (string)[];
  'timeout_ms': (number);
}
