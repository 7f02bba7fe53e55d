// Original file: proto/tern.proto


export interface ListAllContainersRequest {
  'host'?: (string);
}

export interface ListAllContainersRequest__Output {
  'host': (string);
}
