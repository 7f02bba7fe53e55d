// Original file: proto/tern.proto


export interface CommitResponse {
  'source_gone'?: (boolean);
}

export interface CommitResponse__Output {
  'source_gone': (boolean);
}
