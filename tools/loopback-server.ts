/**
 * The HTTP servers of the test world (stand-ins for API Gateway, CodeCommit, CodeBuild's status
 * calls, Backlog's API) listen on a free loopback port and, when stopped, end their open
 * connections too, so that a suite's teardown never waits on a client's keep-alive.
 */
import { once } from "node:events";
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Starts a server with `handler` on 127.0.0.1 and a free port. */
export async function listenOnLoopback(handler: RequestListener): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as AddressInfo).port };
}

/** Stops a server started by {@link listenOnLoopback}: no new connection, open ones ended. */
export async function closeServer(server: Server): Promise<void> {
  const closed = once(server, "close");
  server.close();
  server.closeAllConnections();
  await closed;
}
