/**
 * CodeBuild API stand-in for the calls a build makes (CodeBuild cannot run here): the harness points
 * the build container's AWS CLI at it (AWS_ENDPOINT_URL_CODEBUILD).
 *
 * - BatchGetBuilds is answered from the harness's own record of the builds it runs: `IN_PROGRESS`
 *   while a build is queued (started in the emulator, not yet picked up) or running, then
 *   `SUCCEEDED` or `FAILED` as the build ended. (The emulator, moto 5.2.1, answers SUCCEEDED for
 *   every build at every call, whatever it did.)
 * - Every other action (StartBuild) is forwarded unchanged to the emulator.
 *
 * Only the fields the product reads are returned: `id` and `buildStatus`.
 */
import * as http from "node:http";
import { closeServer, listenOnLoopback } from "../loopback-server";

export type BuildStatus = "IN_PROGRESS" | "SUCCEEDED" | "FAILED" | "TIMED_OUT";

export class CodeBuildStatusStandIn {
  private server?: http.Server;
  private port = 0;
  /** BatchGetBuilds calls received, each the ids it asked for. */
  readonly batchGetCalls: string[][] = [];

  /**
   * @param emulatorEndpoint where other actions go
   * @param statusOf the status of a build id the emulator knows, or undefined when unknown
   */
  constructor(
    private readonly emulatorEndpoint: string,
    private readonly statusOf: (buildId: string) => Promise<BuildStatus | undefined>,
  ) {}

  async start(): Promise<void> {
    ({ server: this.server, port: this.port } = await listenOnLoopback((req, res) => void this.handle(req, res)));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await closeServer(server);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (String(req.headers["x-amz-target"] ?? "") === "CodeBuild_20161006.BatchGetBuilds") {
      const ids = (JSON.parse(body.toString() || "{}") as { ids?: string[] }).ids ?? [];
      this.batchGetCalls.push(ids);
      const builds: Array<{ id: string; buildStatus: BuildStatus }> = [];
      const buildsNotFound: string[] = [];
      for (const id of ids) {
        const status = await this.statusOf(id);
        if (status === undefined) buildsNotFound.push(id);
        else builds.push({ id, buildStatus: status });
      }
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify({ builds, buildsNotFound }));
      return;
    }
    // Forward as received (the emulator does not check signatures against the host name).
    const target = new URL(req.url ?? "/", this.emulatorEndpoint);
    const forward = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on("error", (e) => res.writeHead(502).end(String(e)));
    forward.end(body);
  }
}
