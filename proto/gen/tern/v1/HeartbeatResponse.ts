// Original file: proto/tern.proto


export interface HeartbeatResponse {
}

export interface HeartbeatResponse__Output {
}
