// Original file: proto/tern.proto


export interface ExecRequest {
  'name'?: (string);
  'command'?: (string)[];
  'timeout_ms'?: (number);
}

export interface ExecRequest__Output {
  'name': (string);
  'command': (string)[];
  'timeout_ms': (number);
}
