// Original file: proto/tern.proto


export interface PrepareSourceResponse {
}

export interface PrepareSourceResponse__Output {
}
