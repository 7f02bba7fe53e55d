// Original file: proto/tern.proto


export interface CoordRunRequest {
  'host'?: (string);
  'name'?: (string);
  'command'?: (string)[];
  'ip'?: (string);
  'rootfs'?: (string);
  'hostname'?: (string);
  'env'?: (string)[];
  'cap_add'?: (string)[];
  'no_seccomp'?: (boolean);
}

export interface CoordRunRequest__Output {
  'host': (string);
  'name': (string);
  'command': (string)[];
  'ip': (string);
  'rootfs': (string);
  'hostname': (string);
  'env': (string)[];
  'cap_add': (string)[];
  'no_seccomp': (boolean);
}
