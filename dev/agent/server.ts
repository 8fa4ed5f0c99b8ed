/**
 * The dev agent's Workload API: one gRPC server per registered socket, each
 * handing out only its own identity. SVIDs are renewed at half their lifetime
 * and pushed to every open `FetchX509SVID` stream, as SPIRE does.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { X509Bundle } from "../../lib/spiffe/bundle.ts";
import { parseTrustDomain } from "../../lib/spiffe/id.ts";
import {
  SECURITY_HEADER,
  workloadApiService,
  type X509BundlesResponseMessage,
  type X509SvidResponseMessage,
} from "../../lib/spiffe/workloadapi/proto.ts";
import type { IssuedSvid, LocalCa } from "./ca.ts";
import type { AgentRegistrations, Registration } from "./registration.ts";
import { concat } from "../../lib/std/bytes.ts";

/** Longest unix socket path the kernel accepts (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/** How the agent runs. */
export interface AgentOptions {
  ca: LocalCa;
  registrations: AgentRegistrations;
  /** Folder for the sockets; created with mode 0700. */
  socketDir: string;
  /** Lifetime of each leaf SVID. */
  ttlMs: number;
  /** Told about each issued SVID and each refused call. */
  log?: (line: string) => void;
}

type SvidStream = grpc.ServerWritableStream<unknown, X509SvidResponseMessage>;
type BundleStream = grpc.ServerWritableStream<unknown, X509BundlesResponseMessage>;

interface Served {
  registration: Registration;
  path: string;
  server: grpc.Server;
  svid?: IssuedSvid;
  renewal?: ReturnType<typeof setTimeout>;
  svidStreams: Set<SvidStream>;
  bundleStreams: Set<BundleStream>;
}

/** Refuses a call with a status, the way grpc-js servers do for streams. */
function refuse(
  call: grpc.ServerWritableStream<unknown, unknown>,
  code: grpc.status,
  details: string,
) {
  call.emit("error", { code, details });
}

/** True when the call carries exactly one `workload.spiffe.io: true`. */
function hasSecurityHeader(call: grpc.ServerWritableStream<unknown, unknown>): boolean {
  const values = call.metadata.get(SECURITY_HEADER);
  return values.length === 1 && values[0] === "true";
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    const info = await Deno.lstat(path);
    if (!info.isSocket) {
      throw new Error(`${path} exists and is not a socket; move it away or pick another folder`);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    throw new Error(`another agent is already serving ${path}; stop it first`);
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionRefused || e instanceof Deno.errors.NotFound) {
      await Deno.remove(path); // left behind by an agent that did not stop cleanly
      return;
    }
    throw e;
  }
}

/** A running dev agent. */
export class DevAgent {
  readonly #options: AgentOptions;
  readonly #served: Served[] = [];
  readonly #federated: [string, Uint8Array][];
  #closed = false;

  private constructor(options: AgentOptions, federated: [string, Uint8Array][]) {
    this.#options = options;
    this.#federated = federated;
  }

  /** Issues the SVIDs and binds every socket. */
  static async start(options: AgentOptions): Promise<DevAgent> {
    const federated: [string, Uint8Array][] = [];
    for (const [name, file] of Object.entries(options.registrations.federatedBundles)) {
      const td = parseTrustDomain(name);
      const bundle = X509Bundle.parse(td, await Deno.readTextFile(file));
      federated.push([td.idString(), concat(...bundle.authorities)]);
    }
    await Deno.mkdir(options.socketDir, { recursive: true, mode: 0o700 });
    await Deno.chmod(options.socketDir, 0o700);
    const agent = new DevAgent(options, federated);
    try {
      for (const registration of options.registrations.identities) {
        await agent.#serve(registration);
      }
    } catch (e) {
      await agent.close();
      throw e;
    }
    return agent;
  }

  /** The socket path of a registration, by socket name. */
  socketPath(socket: string): string {
    return join(this.#options.socketDir, `${socket}.sock`);
  }

  async #serve(registration: Registration): Promise<void> {
    const path = this.socketPath(registration.socket);
    if (new TextEncoder().encode(path).length > MAX_SOCKET_PATH) {
      throw new Error(
        `socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes, which unix sockets cannot ` +
          "use; choose a shorter --socket-dir",
      );
    }
    await removeStaleSocket(path);
    const served: Served = {
      registration,
      path,
      server: new grpc.Server(),
      svidStreams: new Set(),
      bundleStreams: new Set(),
    };
    if (registration.spiffeId) await this.#renew(served);
    served.server.addService(workloadApiService, {
      FetchX509SVID: (call: SvidStream) => this.#fetchX509Svid(served, call),
      FetchX509Bundles: (call: BundleStream) => this.#fetchX509Bundles(served, call),
    });
    await new Promise<void>((resolve, reject) =>
      served.server.bindAsync(
        `unix://${path}`,
        grpc.ServerCredentials.createInsecure(),
        (error) => error ? reject(error) : resolve(),
      )
    );
    // grpc-js creates the socket 0755; only the owner may fetch its identity.
    await Deno.chmod(path, 0o600);
    this.#served.push(served);
  }

  async #renew(served: Served): Promise<void> {
    const id = served.registration.spiffeId!;
    served.svid = await this.#options.ca.issue(id, this.#options.ttlMs);
    this.#options.log?.(
      `issued ${id} on ${served.registration.socket}.sock, valid until ${served.svid.notAfter.toISOString()}`,
    );
    const message = this.#svidMessage(served);
    for (const stream of served.svidStreams) stream.write(message);
    served.renewal = setTimeout(() => {
      this.#renew(served).catch((e) => this.#options.log?.(`renewing ${id} failed: ${e}`));
    }, Math.max(this.#options.ttlMs / 2, 500));
  }

  #svidMessage(served: Served): X509SvidResponseMessage {
    const svid = served.svid!;
    return {
      svids: [{
        spiffe_id: served.registration.spiffeId!.toString(),
        x509_svid: concat(...svid.certificates),
        x509_svid_key: svid.privateKey,
        bundle: this.#options.ca.bundleDer,
        hint: "",
      }],
      crl: [],
      federated_bundles: Object.fromEntries(this.#federated),
    };
  }

  #bundlesMessage(): X509BundlesResponseMessage {
    return {
      crl: [],
      bundles: Object.fromEntries([
        [this.#options.ca.trustDomain.idString(), this.#options.ca.bundleDer],
        ...this.#federated,
      ]),
    };
  }

  /** Checks the header and the identity; true when the call may go on. */
  #admit(
    served: Served,
    call: grpc.ServerWritableStream<unknown, unknown>,
    method: string,
  ): boolean {
    if (!hasSecurityHeader(call)) {
      this.#options.log?.(
        `${method} on ${served.registration.socket}.sock refused: no security header`,
      );
      refuse(call, grpc.status.INVALID_ARGUMENT, "security header missing from request");
      return false;
    }
    if (!served.registration.spiffeId) {
      this.#options.log?.(`${method} on ${served.registration.socket}.sock refused: no identity`);
      refuse(call, grpc.status.PERMISSION_DENIED, "no identity issued");
      return false;
    }
    return true;
  }

  #fetchX509Svid(served: Served, call: SvidStream): void {
    if (!this.#admit(served, call, "FetchX509SVID")) return;
    served.svidStreams.add(call);
    call.on("cancelled", () => served.svidStreams.delete(call));
    call.on("close", () => served.svidStreams.delete(call));
    // A workload that exits mid-stream must not take the agent down: an 'error' with no
    // listener would be thrown out of the event loop.
    call.on("error", () => served.svidStreams.delete(call));
    call.write(this.#svidMessage(served));
  }

  #fetchX509Bundles(served: Served, call: BundleStream): void {
    if (!this.#admit(served, call, "FetchX509Bundles")) return;
    served.bundleStreams.add(call);
    call.on("cancelled", () => served.bundleStreams.delete(call));
    call.on("close", () => served.bundleStreams.delete(call));
    call.on("error", () => served.bundleStreams.delete(call));
    call.write(this.#bundlesMessage());
  }

  /** Ends every stream, closes every socket and removes the socket files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const served of this.#served) {
      clearTimeout(served.renewal);
      for (const stream of [...served.svidStreams, ...served.bundleStreams]) stream.end();
      served.server.forceShutdown();
      await Deno.remove(served.path).catch(() => {});
    }
  }
}
