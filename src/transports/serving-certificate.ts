// The certificate the c2s listeners serve, replaceable while they run (a configuration reload): the direct-TLS
// listener takes it through tls.Server.setSecureContext, STARTTLS and PROXY-fronted TLS read it per connection.
// Channel binding (tls-server-end-point) hashes the certificate of each connection's own socket, so it follows.
import tls from 'node:tls';

export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

const MIN_VERSION = 'TLSv1.2';

export class ServingCertificate {
  private current: { pem: PemPair; context: tls.SecureContext };
  private readonly servers = new Set<tls.Server>();

  constructor(pem: PemPair) {
    this.current = { pem, context: contextOf(pem) };
  }

  /** For STARTTLS and TLS sockets made by hand: the context of the certificate in force now. */
  get secureContext(): tls.SecureContext {
    return this.current.context;
  }

  get pem(): PemPair {
    return this.current.pem;
  }

  /** A TLS listener that serves this certificate from now on, including after replace(). */
  serve(server: tls.Server): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

  /** New connections get `pem` from now on; open ones keep theirs. Throws, changing nothing, for a bad pair. */
  replace(pem: PemPair): void {
    const context = contextOf(pem);
    for (const server of this.servers) server.setSecureContext({ cert: pem.cert, key: pem.key, minVersion: MIN_VERSION });
    this.current = { pem, context };
  }
}

function contextOf(pem: PemPair): tls.SecureContext {
  return tls.createSecureContext({ cert: pem.cert, key: pem.key, minVersion: MIN_VERSION });
}
