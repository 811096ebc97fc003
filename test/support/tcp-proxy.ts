/**
 * A loopback TCP proxy between an SSH client and sshd that counts the bytes
 * each connection sends towards the server, and can cut a connection after
 * so many of them, as a dropped network would: the upload tests use it to
 * interrupt a transfer at a known point and to measure what a resumed upload
 * sends again.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface ConnectionStats {
  /** Bytes from the client towards the server (encrypted SSH traffic). */
  readonly bytesUp: number;
  /** Whether the proxy cut it. */
  readonly cut: boolean;
}

export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Cut points for the next connections, in order: after that many bytes up, or never (undefined). */
  #cuts: Array<number | undefined> = [];
  #stats: Array<{ bytesUp: number; cut: boolean }> = [];

  private constructor(
    private readonly targetPort: number,
    readonly port: number,
    server: Server,
  ) {
    this.#server = server;
  }

  /** Listens on a free loopback port and forwards to 127.0.0.1:`targetPort`. */
  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const proxy = new TcpProxy(targetPort, address.port, server);
    server.on('connection', (client) => proxy.#forward(client));
    return proxy;
  }

  /** Sets the cut points of the next connections (see #cuts). */
  cutNext(...cuts: Array<number | undefined>): void {
    this.#cuts = cuts;
  }

  /** The statistics of the connections since the last call, oldest first. */
  take(): ConnectionStats[] {
    const taken = this.#stats;
    this.#stats = [];
    return taken;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #forward(client: Socket): void {
    const cutAfter = this.#cuts.shift();
    const stats = { bytesUp: 0, cut: false };
    this.#stats.push(stats);
    const server = createConnection({ host: '127.0.0.1', port: this.targetPort });
    for (const socket of [client, server]) {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    const cut = () => {
      stats.cut = true;
      client.destroy();
      server.destroy();
    };
    if (cutAfter === 0) return cut();
    client.on('data', (chunk: Buffer) => {
      if (stats.cut) return;
      stats.bytesUp += chunk.length;
      if (cutAfter !== undefined && stats.bytesUp >= cutAfter) cut();
      else server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      if (!stats.cut) client.write(chunk);
    });
    client.on('end', () => server.end());
    server.on('end', () => client.end());
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  }
}
