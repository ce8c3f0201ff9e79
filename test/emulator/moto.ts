/**
 * Starts the local AWS emulator (moto's stand-alone server through moto_launcher.py) on a free
 * loopback port, waits until it answers, and stops it. Used by the integration and e2e suites.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import * as path from "node:path";

export interface Emulator {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly port: number;
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

export async function startEmulator(timeoutMs = 30_000): Promise<Emulator> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(PYTHON, [path.join(__dirname, "moto_launcher.py"), "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...EMULATOR_ENV },
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
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
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      throw new Error(
        `the AWS emulator (moto) did not start: ${stderr.trim() || "no output"}\n` +
          'Install it with: python3 -m pip install "moto[server]==5.2.1" (or set MOTO_PYTHON to a Python that has it)',
      );
    }
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the AWS emulator did not answer on ${endpoint} within ${timeoutMs} ms: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, port, stop };
}
