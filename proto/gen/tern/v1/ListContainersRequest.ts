// Original file: proto/tern.proto


export interface ListContainersRequest {
}

export interface ListContainersRequest__Output {
}
