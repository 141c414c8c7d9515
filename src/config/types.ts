// The validated, fully defaulted configuration every part of the server reads.
// File keys are snake_case TOML (see config/schema.ts); environment variables RATATOSK_* override them.
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  domain: string;
  dataDir: string;
  nodeId: string;
  logLevel: LogLevel;
  /** Bare JIDs allowed to use service administration. */
  admins: string[];
  c2s: {
    host: string;
    /** 0 picks a free port (tests); -1 disables the listener. */
    port: number;
    tlsPort: number;
    requireTls: boolean;
    maxStanzaSize: number;
    preAuthMaxStanzaSize: number;
    maxDepth: number;
    /** Seconds a new connection has to open its stream and authenticate. */
    authTimeout: number;
    /** Seconds of silence before the server pings a client (XEP-0199), and before it gives up. */
    pingInterval: number;
    pingTimeout: number;
    /** TCP keepalive delay in seconds. */
    tcpKeepalive: number;
  };
  http: {
    host: string;
    port: number;
    /** Addresses whose plain-HTTP WebSocket/BOSH connections count as secure (TLS ends at the proxy). */
    trustedProxies: string[];
    maxWebsocketFrame: number;
  };
  /** The local admin HTTP API the CLI talks to while the server runs (loopback only, token-protected). */
  admin: {
    /** A loopback address: 127.0.0.0/8 or ::1. */
    host: string;
    /** 0 picks a free port; -1 disables the API (the CLI then works on the store directly). */
    port: number;
  };
  /** XEP-0114 external components: where they connect (the listener opens only when `components` lists any). */
  component: {
    host: string;
    /** 0 picks a free port (tests); -1 disables the listener. */
    port: number;
    /** Seconds a new component connection has to complete the handshake. */
    handshakeTimeout: number;
  };
  /** The components allowed to connect, each serving one domain with its shared secret. */
  components: ComponentConfig[];
  tls: { cert?: string; key?: string };
  database: { url?: string };
  redis: { url?: string; sentinels: string[]; sentinelName?: string; cluster: string[] };
  registration: { allow: boolean };
  auth: {
    scramIterations: number;
    /** Failed logins from one address before each further attempt is slowed down. */
    failuresBeforeDelay: number;
    maxFailureDelayMs: number;
  };
}

export interface ComponentConfig {
  /** The domain the component serves, e.g. gateway.example.org (normalised). */
  domain: string;
  /** The shared secret of the XEP-0114 handshake. */
  secret: string;
  /** Shown in the server's disco#items. */
  name?: string;
}
