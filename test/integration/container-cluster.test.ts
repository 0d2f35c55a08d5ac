// The cluster's compose file, without docker or podman: compose.cluster.yaml parses with a
// RabbitMQ service and two mailspool hosts built from the Containerfile, each on its own
// data volume with the mounted docs/cluster/app.yaml; that file with a host's environment
// passes check-config in cluster mode, pointed at the rabbitmq service, password masked.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runCli } from "../helpers/cli.js";
import { repoRoot } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";

const compose = parse(fs.readFileSync(path.join(repoRoot, "compose.cluster.yaml"), "utf8"), { merge: true });
const hosts = ["mailspool-a", "mailspool-b"].map((name) => compose.services[name]);
const dataDir = "/srv/mailspool/data";
const configFile = "/srv/mailspool/app.yaml";

/** What compose does to `${VAR:-default}` when VAR is unset. */
const interpolate = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, "$1");

describe("compose.cluster.yaml", () => {
  it("runs RabbitMQ (the official image) and two hosts from the Containerfile, each on its own volume", () => {
    expect(compose.services.rabbitmq.image).toMatch(/^docker\.io\/library\/rabbitmq:3\.\d+/);
    expect(Object.keys(compose.services).sort()).toEqual(["mailspool-a", "mailspool-b", "rabbitmq"]);
    const volumes = hosts.map((host) => {
      expect(host.build).toEqual({ context: ".", dockerfile: "Containerfile" });
      expect(host.depends_on.rabbitmq.condition).toBe("service_healthy");
      expect(host.healthcheck.test).toEqual(["CMD", "/usr/local/bin/mailspool", "healthcheck"]);
      const mounts = (host.volumes as string[]).map((v) => v.split(":"));
      expect(mounts).toContainEqual(["./docs/cluster/app.yaml", configFile, "ro"]);
      return mounts.find(([, target]) => target === dataDir)![0];
    });
    expect(new Set(volumes).size).toBe(2);
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(volumes));
    expect(new Set(hosts.flatMap((h) => h.ports)).size).toBe(2);
  });

  it("gives each host a config that check-config accepts in cluster mode, on the rabbitmq service", () => {
    const rabbit = compose.services.rabbitmq.environment;
    for (const host of hosts) {
      const dir = tmpDir();
      fs.copyFileSync(path.join(repoRoot, "docs/cluster/app.yaml"), path.join(dir, "app.yaml"));
      const env = Object.fromEntries(
        Object.entries(host.environment as Record<string, string>).map(([k, v]) => [k, interpolate(v)]),
      );
      const result = runCli(["check-config"], dir, { ...env, MAILSPOOL_CONFIG: "", MAILSPOOL_LISTEN: "0.0.0.0:8100" });
      expect(result.code, result.stderr).toBe(0);
      const broker = JSON.parse(result.stdout).broker;
      const url = new URL(env.MAILSPOOL_BROKER_URL!);
      expect(url.hostname).toBe("rabbitmq");
      expect(decodeURIComponent(url.username)).toBe(interpolate(rabbit.RABBITMQ_DEFAULT_USER));
      expect(decodeURIComponent(url.password)).toBe(interpolate(rabbit.RABBITMQ_DEFAULT_PASS));
      expect(broker.url).toBe(`amqp://${url.username}:***@rabbitmq:5672`);
      expect(broker.prefix).toBe("mailspool");
    }
  });
});
