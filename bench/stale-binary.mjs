// Warns when src/ changed after dist/mailspool was built: the binary would not be the code
// the bench claims to measure.
import fs from "node:fs";
import path from "node:path";

/** The newest non-test file under src/ if it is newer than the binary, else "". */
export function newerSource(root, binary) {
  const builtAt = fs.statSync(binary).mtimeMs;
  let newest = { file: "", mtime: 0 };
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (!entry.name.endsWith(".test.ts")) {
        const mtime = fs.statSync(full).mtimeMs;
        if (mtime > newest.mtime) newest = { file: full, mtime };
      }
    }
  };
  walk(path.join(root, "src"));
  return newest.mtime > builtAt ? path.relative(root, newest.file) : "";
}
