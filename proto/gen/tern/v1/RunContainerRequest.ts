// Original file: proto/tern.proto


export interface RunContainerRequest {
  'name'?: (string);
  'command'?: (string)[];
  'ip'?: (string);
  'rootfs'?: (string);
  'hostname'?: (string);
  'env'?: (string)[];
  'cap_add'?: (string)[];
  'no_seccomp'?: (boolean);
}

export interface RunContainerRequest__Output {
  'name': (string);
  'command': (string)[];
  'ip': (string);
  'rootfs': (string);
  'hostname': (string);
  'env': (string)[];
  'cap_add': (string)[];
  'no_seccomp': (boolean);
}
