import { describe, expect, it } from "vitest";
import { clientAddress, inCidrs, parseAddress, parseCidrs } from "./client-address.js";

const none = parseCidrs([]);

function matches(address: string, cidrs: string[]): boolean {
  const parsed = parseAddress(address);
  if (!parsed) throw new Error(`unparsable ${address}`);
  return inCidrs(parsed, parseCidrs(cidrs));
}

describe("parseAddress and loopback", () => {
  it("direct loopback clients, IPv4, IPv6 and IPv4-mapped", () => {
    expect(clientAddress("127.0.0.1", undefined, none)).toEqual({ ip: "127.0.0.1", loopback: true, proxied: false });
    expect(clientAddress("127.8.9.10", undefined, none)).toEqual({ ip: "127.8.9.10", loopback: true, proxied: false });
    expect(clientAddress("::1", undefined, none)).toEqual({ ip: "::1", loopback: true, proxied: false });
    expect(clientAddress("0:0:0:0:0:0:0:1", undefined, none)).toEqual({ ip: "::1", loopback: true, proxied: false });
    expect(clientAddress("::ffff:127.0.0.1", undefined, none)).toEqual({
      ip: "127.0.0.1",
      loopback: true,
      proxied: false,
    });
  });

  it("other addresses are not loopback; IPv4-mapped ones are shown as IPv4", () => {
    expect(clientAddress("10.0.0.5", undefined, none)).toEqual({ ip: "10.0.0.5", loopback: false, proxied: false });
    expect(clientAddress("::ffff:10.0.0.5", undefined, none)).toEqual({
      ip: "10.0.0.5",
      loopback: false,
      proxied: false,
    });
    expect(clientAddress("2001:db8::7", undefined, none)).toEqual({
      ip: "2001:db8::7",
      loopback: false,
      proxied: false,
    });
    expect(clientAddress("0.0.0.0", undefined, none).loopback).toBe(false);
    expect(clientAddress("::", undefined, none).loopback).toBe(false);
  });

  it("an unknown or unparsable socket address is never loopback", () => {
    expect(clientAddress(undefined, undefined, none)).toEqual({ ip: "unknown", loopback: false, proxied: false });
    expect(clientAddress("not-an-ip", undefined, none)).toEqual({ ip: "not-an-ip", loopback: false, proxied: false });
    expect(clientAddress("", "127.0.0.1", parseCidrs(["0.0.0.0/0"])).loopback).toBe(false);
    expect(parseAddress("300.1.1.1")).toBeNull();
    expect(parseAddress("")).toBeNull();
  });
});

describe("CIDR matching", () => {
  it("matches IPv4 ranges by prefix", () => {
    expect(matches("10.255.0.1", ["10.0.0.0/8"])).toBe(true);
    expect(matches("11.0.0.1", ["10.0.0.0/8"])).toBe(false);
    expect(matches("192.168.1.130", ["192.168.1.128/25"])).toBe(true);
    expect(matches("192.168.1.127", ["192.168.1.128/25"])).toBe(false);
    expect(matches("203.0.113.9", ["0.0.0.0/0"])).toBe(true);
  });

  it("treats a bare address as a single host", () => {
    expect(matches("192.168.1.5", ["192.168.1.5"])).toBe(true);
    expect(matches("192.168.1.6", ["192.168.1.5"])).toBe(false);
    expect(matches("::1", ["::1"])).toBe(true);
    expect(matches("::2", ["::1"])).toBe(false);
  });

  it("matches IPv6 ranges and never mixes families", () => {
    expect(matches("fd12:3456::1", ["fd00::/8"])).toBe(true);
    expect(matches("fe80::1", ["fd00::/8"])).toBe(false);
    expect(matches("10.0.0.1", ["::/0"])).toBe(false);
    expect(matches("::1", ["0.0.0.0/0"])).toBe(false);
  });

  it("matches IPv4-mapped IPv6 clients against IPv4 ranges", () => {
    expect(matches("::ffff:10.1.2.3", ["10.0.0.0/8"])).toBe(true);
    expect(matches("::ffff:127.0.0.1", ["127.0.0.0/8", "::1/128"])).toBe(true);
  });

  it("any of several ranges", () => {
    const list = ["127.0.0.0/8", "::1/128", "192.168.0.0/16"];
    expect(matches("192.168.44.2", list)).toBe(true);
    expect(matches("::1", list)).toBe(true);
    expect(matches("172.16.0.1", list)).toBe(false);
  });

  it("rejects an invalid CIDR", () => {
    expect(() => parseCidrs(["10.0.0.0/33"])).toThrow();
    expect(() => parseCidrs(["lan"])).toThrow();
  });
});

describe("X-Forwarded-For", () => {
  const proxies = parseCidrs(["10.0.0.0/24"]);

  it("is ignored when no proxy is trusted", () => {
    expect(clientAddress("127.0.0.1", "203.0.113.7", none)).toEqual({
      ip: "127.0.0.1",
      loopback: true,
      proxied: false,
    });
    expect(clientAddress("10.0.0.2", "203.0.113.7", none)).toEqual({ ip: "10.0.0.2", loopback: false, proxied: false });
  });

  it("is ignored from a socket outside trustProxy", () => {
    expect(clientAddress("203.0.113.9", "10.0.0.1", proxies)).toEqual({
      ip: "203.0.113.9",
      loopback: false,
      proxied: false,
    });
    expect(clientAddress("127.0.0.1", "198.51.100.1", proxies)).toEqual({
      ip: "127.0.0.1",
      loopback: true,
      proxied: false,
    });
  });

  it("is believed from a trusted proxy", () => {
    expect(clientAddress("10.0.0.2", "203.0.113.7", proxies)).toEqual({
      ip: "203.0.113.7",
      loopback: false,
      proxied: true,
    });
    expect(clientAddress("::ffff:10.0.0.2", "2001:db8::5", proxies)).toEqual({
      ip: "2001:db8::5",
      loopback: false,
      proxied: true,
    });
  });

  it("picks the right-most hop that is not a trusted proxy", () => {
    expect(clientAddress("10.0.0.2", "198.51.100.1, 203.0.113.7, 10.0.0.3", proxies).ip).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.2", "198.51.100.1,203.0.113.7", proxies).ip).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.2", " 203.0.113.7 ,10.0.0.9,  10.0.0.3 ", proxies).ip).toBe("203.0.113.7");
  });

  it("an unparsable hop before any untrusted one makes the client invalid", () => {
    expect(clientAddress("10.0.0.2", "203.0.113.7, garbage", proxies)).toEqual({
      ip: "invalid",
      loopback: false,
      proxied: true,
    });
    expect(clientAddress("10.0.0.2", "garbage, 203.0.113.7", proxies).ip).toBe("203.0.113.7");
  });

  it("a proxied request is never loopback, even when the forwarded client is", () => {
    const local = parseCidrs(["127.0.0.1/32"]);
    expect(clientAddress("127.0.0.1", "127.0.0.5", local)).toEqual({ ip: "127.0.0.5", loopback: false, proxied: true });
    expect(clientAddress("127.0.0.1", "::1", local)).toEqual({ ip: "::1", loopback: false, proxied: true });
  });

  // Every X-Forwarded-For hop trusted: still a proxied client, never direct loopback.
  it("a request whose every hop is a trusted proxy is still proxied and not loopback", () => {
    const trust = parseCidrs(["127.0.0.1/32", "10.0.0.0/8"]);
    const client = clientAddress("127.0.0.1", "10.1.2.3", trust);
    expect(client.proxied).toBe(true);
    expect(client.loopback).toBe(false);
  });
});
