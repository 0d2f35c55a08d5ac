// The part of Bun's built-in SQLite (bun:sqlite) that the spool index uses.
declare module "bun:sqlite" {
  export type Binding = string | number | bigint | boolean | null | Uint8Array;

  export class Statement<R, P extends Binding[]> {
    get(...params: P): R | null;
    all(...params: P): R[];
    run(...params: P): { changes: number; lastInsertRowid: number | bigint };
  }

  export const constants: { SQLITE_OPEN_READONLY: number; SQLITE_OPEN_URI: number };

  export class SQLiteError extends Error {}

  export class Database {
    constructor(filename?: string, options?: { readonly?: boolean; create?: boolean; strict?: boolean } | number);
    query<R = unknown, P extends Binding[] = Binding[]>(sql: string): Statement<R, P>;
    prepare<R = unknown, P extends Binding[] = Binding[]>(sql: string): Statement<R, P>;
    exec(sql: string): void;
    transaction<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T;
    close(throwOnError?: boolean): void;
  }
}
