// Original file: proto/tern.proto


export interface ContainerRef {
  'name'?: (string);
}

export interface ContainerRef__Output {
  'name': (string);
}
