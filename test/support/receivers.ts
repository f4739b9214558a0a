/** Local receivers for the alert delivery tests: an HTTP endpoint that records what it is sent. */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  raw: string;
  body: unknown;
  at: number;
}

/** Answers each request by `respond` (status, and an optional delay), recording every request. */
export class HttpSink {
  readonly received: Received[] = [];
  private server: Server | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  respond: (r: Received, n: number) => { status: number; delayMs?: number; body?: string } = () => ({ status: 200 });
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        let body: unknown = null;
        try {
          body = JSON.parse(raw);
        } catch {
          body = null;
        }
        const r: Received = { path: req.url ?? '', headers: req.headers, raw, body, at: Date.now() };
        this.received.push(r);
        const answer = this.respond(r, this.received.length);
        const send = (): void => {
          if (!res.destroyed) res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body ?? (answer.status < 300 ? 'ok' : 'no'));
        };
        if (answer.delayMs) {
          const t = setTimeout(() => {
            this.timers.delete(t);
            send();
          }, answer.delayMs);
          this.timers.add(t);
        }
        else send();
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
