/**
 * Git LFS stand-in for Backlog's LFS server (Backlog serves LFS over HTTPS with the user's
 * credentials; it documents no more). It follows git-lfs's own specification of the Batch API
 * (git-lfs docs/api/batch.md) and of the basic transfer (docs/api/basic-transfers.md), over HTTPS
 * on a loopback port with a throwaway CA whose certificate also names `SPACE.backlog.jp`:
 *   - POST /git/PROJECT/REPO.git/info/lfs/objects/batch with HTTP basic auth (401 and an
 *     `LFS-Authenticate` header otherwise), operations `download` and `upload`, transfer `basic`:
 *     a download action for each object it holds, the per-object error 404 for one it does not; an
 *     upload action for each object it lacks, none for one it holds;
 *   - GET / PUT /git/PROJECT/REPO.git/info/lfs/objects/OID (basic auth): the object's bytes; a PUT
 *     whose content does not hash to OID is refused (400);
 *   - anything else (the locking API included) is 404.
 * Action hrefs are on the origin the request came to (the `Host` header), so a client that reached
 * `SPACE.backlog.jp` through curl's `connect-to` gets hrefs on that name.
 * Actions carry no header and are not marked `authenticated`: a client sends its credentials to them
 * as to the Batch API (they are on the same origin).
 * It counts what it serves: every object download (repository, OID, bytes).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { type IncomingMessage, type ServerResponse } from "node:http";
import { type Server, createServer } from "node:https";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

const CERT_SCRIPT = path.join(__dirname, "..", "..", "scripts", "sandbox_cert.py");
const PYTHON = process.env.MOTO_PYTHON ?? "python3";
const LFS_JSON = "application/vnd.git-lfs+json";
const ROUTE = /^\/git\/([^/]+)\/([^/]+)\.git\/info\/lfs\/objects\/(batch|[0-9a-f]{64})$/;

export interface LfsDownload {
  readonly key: string;
  readonly oid: string;
  readonly bytes: number;
}

export class LfsServerStandIn {
  private server: Server | undefined;
  private port = 0;
  /** Every object download served, in order. */
  readonly downloads: LfsDownload[] = [];
  /** Batch API requests answered 401 (wrong or no credentials). */
  unauthorized = 0;

  constructor(
    readonly dir: string,
    /** Host names the certificate carries besides 127.0.0.1 (the space's `SPACE.backlog.jp`). */
    readonly names: readonly string[],
    readonly user: string,
    readonly password: string,
  ) {
    mkdirSync(path.join(dir, "objects"), { recursive: true });
  }

  /** The CA the clients trust. */
  get caFile(): string {
    return path.join(this.dir, "tls", "ca.pem");
  }

  /** `https://127.0.0.1:PORT`. */
  get endpoint(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get listenPort(): number {
    return this.port;
  }

  async start(): Promise<void> {
    const tls = path.join(this.dir, "tls");
    execFileSync(PYTHON, [CERT_SCRIPT, tls, ...this.names], { stdio: ["ignore", "ignore", "pipe"] });
    const server = createServer({ key: readFileSync(path.join(tls, "key.pem")), cert: readFileSync(path.join(tls, "cert.pem")) }, (req, res) => {
      this.handle(req, res).catch((e: Error) => {
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(e.message);
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    const closed = once(server, "close");
    server.close();
    server.closeAllConnections();
    await closed;
  }

  /** Where the object `oid` of repository `key` (`PROJECT/REPO`) is kept. */
  objectFile(key: string, oid: string): string {
    return path.join(this.dir, "objects", key, oid);
  }

  has(key: string, oid: string): boolean {
    return existsSync(this.objectFile(key, oid));
  }

  /** TEST DOUBLE of an object lost at Backlog. */
  remove(key: string, oid: string): void {
    rmSync(this.objectFile(key, oid), { force: true });
  }

  private authorized(req: IncomingMessage): boolean {
    const expected = `Basic ${Buffer.from(`${this.user}:${this.password}`).toString("base64")}`;
    return req.headers.authorization === expected;
  }

  private async body(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { "Content-Type": LFS_JSON, ...headers });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = ROUTE.exec((req.url ?? "").split("?")[0]);
    if (m === null) return this.json(res, 404, { message: "Not Found" });
    const key = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
    if (!this.authorized(req)) {
      if (m[3] === "batch") this.unauthorized++;
      return this.json(res, 401, { message: "Credentials needed" }, { "LFS-Authenticate": 'Basic realm="Backlog"' });
    }
    const base = `https://${req.headers.host}/git/${m[1]}/${m[2]}.git/info/lfs/objects`;
    if (m[3] === "batch") {
      if (req.method !== "POST") return this.json(res, 404, { message: "Not Found" });
      const request = JSON.parse((await this.body(req)).toString()) as { operation: string; objects: Array<{ oid: string; size: number }> };
      const objects = request.objects.map(({ oid, size }) => {
        const held = /^[0-9a-f]{64}$/.test(oid) && this.has(key, oid);
        if (request.operation === "download") {
          return held
            ? { oid, size, actions: { download: { href: `${base}/${oid}`, expires_in: 3600 } } }
            : { oid, size, error: { code: 404, message: "Object does not exist" } };
        }
        return held ? { oid, size } : { oid, size, actions: { upload: { href: `${base}/${oid}`, expires_in: 3600 } } };
      });
      return this.json(res, 200, { transfer: "basic", objects, hash_algo: "sha256" });
    }
    const oid = m[3];
    const file = this.objectFile(key, oid);
    if (req.method === "GET") {
      if (!existsSync(file)) return this.json(res, 404, { message: "Object does not exist" });
      const content = readFileSync(file);
      this.downloads.push({ key, oid, bytes: content.length });
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": String(content.length) });
      res.end(content);
      return;
    }
    if (req.method === "PUT") {
      const content = await this.body(req);
      if (createHash("sha256").update(content).digest("hex") !== oid) return this.json(res, 400, { message: "content does not match the object id" });
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(`${file}.tmp`, content);
      renameSync(`${file}.tmp`, file);
      res.writeHead(200);
      res.end();
      return;
    }
    this.json(res, 404, { message: "Not Found" });
  }
}
