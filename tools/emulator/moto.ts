/**
 * Starts the local AWS emulator (moto's stand-alone server through moto_launcher.py) on a free
 * loopback port, waits until it answers, and stops it. Used by the integration and e2e suites.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";

export interface Emulator {
  /** `http://127.0.0.1:PORT`, or `https://` when started with `tls`. */
  readonly endpoint: string;
  readonly port: number;
  /** With `tls`: the PEM file of the throwaway CA that signed the emulator's certificate. */
  readonly caBundle?: string;
  /** Stops the server; safe to call twice. */
  stop(): Promise<void>;
}

/** Credentials and region every client of the emulator uses. */
export const EMULATOR_ENV = {
  AWS_ACCESS_KEY_ID: "testing",
  AWS_SECRET_ACCESS_KEY: "testing",
  AWS_REGION: "ap-northeast-1",
  AWS_DEFAULT_REGION: "ap-northeast-1",
} as const;

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}

const PYTHON = process.env.MOTO_PYTHON ?? "python3";

/** Writes a throwaway CA and server certificate (the sandbox's generator). */
/** The launcher of moto's server with the emulator's patches (also run by `npm run sandbox:up`). */
export const MOTO_LAUNCHER = path.join(__dirname, "moto_launcher.py");

const CERT_SCRIPT = path.join(__dirname, "..", "..", "scripts", "sandbox_cert.py");

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /**
   * Speak HTTPS with a throwaway certificate, as AWS does: a bucket policy that denies requests
   * without TLS (`aws:SecureTransport` false, enforced by the launcher like S3 does) then admits
   * the clients. Clients trust `caBundle` (Terraform: `custom_ca_bundle`).
   * @default false
   */
  readonly tls?: boolean;
}

/** GET over HTTPS trusting `ca`; resolves with the status code. */
function httpsStatus(url: string, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, method: "GET" }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

export async function startEmulator(timeoutMs = 30_000, options: EmulatorOptions = {}): Promise<Emulator> {
  const port = await freePort();
  const args = [MOTO_LAUNCHER, "-H", "127.0.0.1", "-p", String(port)];
  let tlsDir: string | undefined;
  let caBundle: string | undefined;
  if (options.tls === true) {
    tlsDir = mkdtempSync(path.join(tmpdir(), "moto-tls-"));
    execFileSync(PYTHON, [CERT_SCRIPT, tlsDir], { stdio: ["ignore", "ignore", "pipe"] });
    caBundle = path.join(tlsDir, "ca.pem");
    args.push("--ssl-cert", path.join(tlsDir, "cert.pem"), "--ssl-key", path.join(tlsDir, "key.pem"));
  }
  const ca = caBundle === undefined ? undefined : readFileSync(caBundle);
  const endpoint = `${ca === undefined ? "http" : "https"}://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(PYTHON, args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...EMULATOR_ENV },
  });
  let stderr = "";
  // MOTO_LOG=FILE keeps the server's whole log (requests, tracebacks) for a failing test.
  const log = process.env.MOTO_LOG;
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
    if (log !== undefined && log !== "") appendFileSync(log, d);
  });
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await once(child, "exit").catch(() => undefined);
    clearTimeout(timer);
    if (tlsDir !== undefined) rmSync(tlsDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      if (tlsDir !== undefined) rmSync(tlsDir, { recursive: true, force: true });
      throw new Error(
        `the AWS emulator (moto) did not start: ${stderr.trim() || "no output"}\n` +
          'Install it with: python3 -m pip install "moto[server]==5.2.1" (or set MOTO_PYTHON to a Python that has it)',
      );
    }
    try {
      const status = ca === undefined ? (await fetch(`${endpoint}/moto-api/`)).status : await httpsStatus(`${endpoint}/moto-api/`, ca);
      if (status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the AWS emulator did not answer on ${endpoint} within ${timeoutMs} ms: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, port, caBundle, stop };
}
