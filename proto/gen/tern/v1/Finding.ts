// Original file: proto/tern.proto


export interface Finding {
  'severity'?: (string);
  'host'?: (string);
  'object'?: (string);
  'problem'?: (string);
  'advice'?: (string);
}

export interface Finding__Output {
  'severity': (string);
  'host': (string);
  'object': (string);
  'problem': (string);
  'advice': (string);
}
