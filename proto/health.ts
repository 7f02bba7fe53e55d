// The standard gRPC health-checking service (grpc.health.v1.Health) on every
// daemon's servers: "" and the daemon's own service answer SERVING once it
// serves, NOT_SERVING while it stops. Any caller the server admits may ask
// (a monitoring probe presents an operator certificate over TCP).

import type * as grpc from '@grpc/grpc-js';
import * as grpcLib from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation, protoPath } from 'grpc-health-check';
import type { CertFiles } from '../core/pki.js';
import { channelTarget, isUnix } from './index.js';
import { channelCredentials, type Expect, type Policy, requireTls } from './tls.js';

/** Health methods by full path (the agent's own `Check` is another method). */
export function healthPolicy(roles: Policy[string]): Policy {
  return {
    '/grpc.health.v1.Health/Check': roles,
    '/grpc.health.v1.Health/Watch': roles,
  };
}

export class Health {
  private readonly impl = new HealthImplementation({ '': 'NOT_SERVING' });

  constructor(private readonly services: string[]) {
    for (const s of services) this.impl.setStatus(s, 'NOT_SERVING');
  }

  addTo(server: grpc.Server): void {
    this.impl.addToServer(server);
  }

  set(serving: boolean): void {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    for (const s of ['', ...this.services]) this.impl.setStatus(s, status);
  }
}

let HealthClient: grpc.ServiceClientConstructor | undefined;

/**
 * Asks a daemon's health service for `service` ('' = the daemon as a
 * whole): SERVING, NOT_SERVING, SERVICE_UNKNOWN, or the error. Over TCP the
 * daemon must hold the certificate of `expect` (its role and name).
 */
export async function checkHealth(
  address: string,
  tls: CertFiles | undefined,
  expect: Expect,
  service = '',
  timeoutMs = 5000,
): Promise<string> {
  HealthClient ??= (
    grpcLib.loadPackageDefinition(
      protoLoader.loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true }),
    ) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }
  ).grpc.health.v1.Health;
  const creds = isUnix(address)
    ? grpcLib.credentials.createInsecure()
    : channelCredentials(requireTls(tls, address), expect);
  const client = new HealthClient(channelTarget(address), creds, {
    'grpc.ssl_target_name_override': expect.name ?? expect.role,
  });
  try {
    return await new Promise<string>((resolve, reject) =>
      client.Check(
        { service },
        { deadline: Date.now() + timeoutMs },
        (e: grpc.ServiceError | null, r: { status: string }) => (e ? reject(e) : resolve(r.status)),
      ),
    );
  } finally {
    client.close();
  }
}
