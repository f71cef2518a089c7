// With @types/better-sqlite3 installed, an open Database fits the sqlite sink's option.
import Database from "better-sqlite3";
import { createSqliteSink } from "keycrm-stock-sync/sqlite";

const database = new Database(":memory:");
export const sink = createSqliteSink({ database, table: "products" });
// @ts-expect-error a path or a database, not both
createSqliteSink({ database, path: "shop.sqlite" });
