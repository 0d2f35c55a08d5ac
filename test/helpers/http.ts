// Small HTTP helpers over real sockets: the send endpoint and a raw chunked POST.
import http from "node:http";

export interface ApiAnswer {
  status: number;
  body: { code: number; message: string; data: any };
  headers: Headers;
}

export async function post(url: string, body: BodyInit, headers: Record<string, string> = {}): Promise<ApiAnswer> {
  const response = await fetch(`${url}/api/email/send`, { method: "POST", body, headers });
  return { status: response.status, body: (await response.json()) as ApiAnswer["body"], headers: response.headers };
}

export async function get(url: string, path: string, headers: Record<string, string> = {}): Promise<ApiAnswer> {
  const response = await fetch(`${url}${path}`, { headers });
  return { status: response.status, body: (await response.json()) as ApiAnswer["body"], headers: response.headers };
}

export function sendForm(
  fields: Record<string, string>,
  files: { name?: string; filename: string; type: string; data: Uint8Array }[] = [],
): FormData {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  for (const f of files)
    form.append(f.name ?? "attachment[]", new Blob([new Uint8Array(f.data)], { type: f.type }), f.filename);
  return form;
}

/** POSTs `total` bytes as a chunked body without Content-Length; resolves with status and body. */
export function postChunked(
  url: string,
  contentType: string,
  total: number,
  chunkSize = 64 * 1024,
): Promise<{ status: number; body: string }> {
  const target = new URL(`${url}/api/email/send`);
  return new Promise((resolve, reject) => {
    const request = http.request({
      hostname: target.hostname,
      port: target.port,
      path: target.pathname,
      method: "POST",
      headers: { "content-type": contentType, "transfer-encoding": "chunked" },
    });
    request.on("response", (response) => {
      let body = "";
      response.on("data", (c) => (body += c));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
    let sent = 0;
    const chunk = Buffer.alloc(chunkSize, 0x61);
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!request.write(chunk)) return void request.once("drain", pump);
      }
      request.end();
    };
    pump();
  });
}
