// The container set-up, without docker or podman: compose.yaml parses with the mailspool
// service, its named data volume and a healthcheck; its environment passes check-config;
// the Containerfile's HEALTHCHECK runs a command the binary has; the build context keeps
// exactly what the Containerfile copies.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runCli } from "../helpers/cli.js";
import { repoRoot } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";

const containerfile = fs.readFileSync(path.join(repoRoot, "Containerfile"), "utf8");
const instruction = (name: string) =>
  containerfile
    .split("\n")
    .filter((line) => line.startsWith(`${name} `))
    .map((line) => line.slice(name.length + 1).trim());
const compose = parse(fs.readFileSync(path.join(repoRoot, "compose.yaml"), "utf8"));
const service = compose.services.mailspool;

describe("Containerfile", () => {
  const copied = instruction("COPY").map((args) => args.split(/\s+/).filter((a) => !a.startsWith("--")));
  const binary = copied.find(([source]) => source === "dist/mailspool")![1]!;

  it("has a HEALTHCHECK that runs mailspool healthcheck, a command the binary knows", () => {
    const [check] = instruction("HEALTHCHECK");
    const command = JSON.parse(check!.slice(check!.indexOf("CMD ") + 4)) as string[];
    expect(command).toEqual([binary, "healthcheck"]);
    const help = runCli([...command.slice(1), "--help"], tmpDir());
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: mailspool healthcheck");
    expect(check).toMatch(/--timeout=(\d+)s/);
    expect(Number(/--timeout=(\d+)s/.exec(check!)![1])).toBeGreaterThan(5); // the command's own default
  });

  it("keeps in its build context exactly what it copies", () => {
    const ignore = fs
      .readFileSync(path.join(repoRoot, ".containerignore"), "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    expect(ignore).toEqual(["*", ...copied.map(([source]) => `!${source}`)]);
    expect(fs.readlinkSync(path.join(repoRoot, ".dockerignore"))).toBe(".containerignore");
  });
});

describe("compose.yaml", () => {
  it("runs the image built from the Containerfile, its data on a named volume", () => {
    expect(service.build).toEqual({ context: ".", dockerfile: "Containerfile" });
    const [volume] = instruction("VOLUME").map((v) => JSON.parse(v) as string[]);
    const mounts = (service.volumes as string[]).map((v) => v.split(":"));
    expect(mounts).toContainEqual(["mailspool-data", volume![0]]);
    expect(Object.keys(compose.volumes)).toEqual(["mailspool-data"]);
    const listen = instruction("ENV").find((e) => e.startsWith("MAILSPOOL_LISTEN="))!;
    expect(service.ports).toEqual([`8100:${listen.split(":").pop()}`]);
    expect(instruction("EXPOSE")).toEqual([listen.split(":").pop()]);
    expect(service.healthcheck.test).toEqual(["CMD", "/usr/local/bin/mailspool", "healthcheck"]);
    expect(Number.parseInt(service.stop_grace_period, 10)).toBeGreaterThan(15);
  });

  it("sets an environment that check-config accepts, with no config file", () => {
    const env = service.environment as Record<string, string>;
    const result = runCli(["check-config"], tmpDir(), {
      ...env,
      MAILSPOOL_CONFIG: "",
      MAILSPOOL_LISTEN: "0.0.0.0:8100",
    });
    expect(result.code, result.stderr).toBe(0);
    const config = JSON.parse(result.stdout);
    expect(config.server.allow).toEqual([...env.MAILSPOOL_ALLOW!.split(","), "127.0.0.0/8", "::1/128"]);
    expect(config.delivery.upstreams).toEqual([]);
    expect(result.stderr).toContain("delivery: the embedded outbox");
  });
});
