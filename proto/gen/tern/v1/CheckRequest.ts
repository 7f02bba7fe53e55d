// Original file: proto/tern.proto


export interface CheckRequest {
}

export interface CheckRequest__Output {
}
