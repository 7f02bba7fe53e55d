// Original file: proto/tern.proto


export interface ListMigrationsRequest {
}

export interface ListMigrationsRequest__Output {
}
