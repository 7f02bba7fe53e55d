// Original file: proto/tern.proto


export interface ExecResponse {
  'exit_code'?: (number);
  'stdout'?: (Buffer | Uint8Array | string);
  'stderr'?: (Buffer | Uint8Array | string);
}

export interface ExecResponse__Output {
  'exit_code': (number);
  'stdout': (Buffer);
  'stderr': (Buffer);
}
