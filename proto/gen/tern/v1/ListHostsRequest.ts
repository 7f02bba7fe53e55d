// Original file: proto/tern.proto


export interface ListHostsRequest {
}

export interface ListHostsRequest__Output {
}
