// CIDR lists (ipaddr.js) and who the client is: the socket's address, or behind a
// trusted proxy the right-most X-Forwarded-For entry that is not itself a trusted proxy.
import ipaddr from "ipaddr.js";

export type CidrList = [ipaddr.IPv4 | ipaddr.IPv6, number][];

export function parseCidrs(cidrs: readonly string[]): CidrList {
  return cidrs.map((cidr) => {
    if (cidr.includes("/")) return ipaddr.parseCIDR(cidr);
    const address = ipaddr.parse(cidr);
    return [address, address.kind() === "ipv4" ? 32 : 128];
  });
}

export function parseAddress(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    return ipaddr.process(ip);
  } catch {
    return null;
  }
}

export function inCidrs(address: ipaddr.IPv4 | ipaddr.IPv6, cidrs: CidrList): boolean {
  return cidrs.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}

export interface ClientAddress {
  ip: string;
  /** True only for a direct (not proxied) connection from a loopback address. */
  loopback: boolean;
  proxied: boolean;
}

export function clientAddress(
  remote: string | undefined,
  forwardedFor: string | undefined,
  trustProxy: CidrList,
): ClientAddress {
  const socket = parseAddress(remote ?? "");
  if (!socket) return { ip: remote ?? "unknown", loopback: false, proxied: false };
  if (forwardedFor && trustProxy.length && inCidrs(socket, trustProxy)) {
    const hops = forwardedFor.split(",").map((h) => parseAddress(h.trim()));
    for (let i = hops.length - 1; i >= 0; i -= 1) {
      const hop = hops[i];
      if (!hop) return { ip: "invalid", loopback: false, proxied: true };
      if (!inCidrs(hop, trustProxy)) return { ip: hop.toString(), loopback: false, proxied: true };
    }
    // every hop is a trusted proxy: the left-most is the best guess, and still proxied
    return { ip: hops[0]!.toString(), loopback: false, proxied: true };
  }
  return { ip: socket.toString(), loopback: socket.range() === "loopback", proxied: false };
}
