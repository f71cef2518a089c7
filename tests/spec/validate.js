// Checks an answer against KeyCRM's published API description: the copy of it
// beside this file. Ajv validates; this module only finds the schema an answer
// must meet (path, method, status, content type) and makes the description's
// OpenAPI 3.0 schemas readable to Ajv.

import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse } from "yaml";

const SPEC_URL = new URL("./keycrm-openapi.yml", import.meta.url);
const COMPONENTS_ID = "https://keycrm-openapi.invalid/components";

/** The description, parsed. */
export const spec = parse(readFileSync(SPEC_URL, "utf8"));

// Strict: a keyword Ajv does not know, or one that cannot apply to the type
// beside it, is an error in the description, not something to skip silently.
const ajv = new Ajv({ strict: true, strictTypes: true, allErrors: true });
// OpenAPI's annotation; `nullable` is known to Ajv already.
ajv.addKeyword({ keyword: "example" });
ajv.addSchema({
  $id: COMPONENTS_ID,
  $defs: pointRefs(spec.components.schemas),
});

const validators = new Map();

/**
 * Errors of `body` against the description's schema for `GET path` answered
 * with `status`: an empty array when it conforms. `path` is the description's
 * template, e.g. `"/order/{orderId}"`.
 *
 * # Errors
 * Throws when the description has no JSON schema for that answer.
 */
export function specErrors(path, status, body, method = "get") {
  const key = `${method} ${path} ${status}`;
  let validate = validators.get(key);
  if (!validate) {
    const schema =
      spec.paths[path]?.[method]?.responses?.[status]?.content?.[
        "application/json"
      ]?.schema;
    if (!schema) throw new Error(`the description has no schema for ${key}`);
    validate = ajv.compile(pointRefs(schema));
    validators.set(key, validate);
  }
  if (validate(body)) return [];
  return validate.errors.map(
    (e) => `${e.instancePath || "/"} ${e.message} (${e.schemaPath})`,
  );
}

/** Whether the description lists `status` among the answers to `GET path`. */
export function documentsStatus(path, status, method = "get") {
  return String(status) in (spec.paths[path]?.[method]?.responses ?? {});
}

// The description's refs point into its own document ("#/components/schemas/X");
// here they point into the one schema registered above.
function pointRefs(node) {
  if (Array.isArray(node)) return node.map(pointRefs);
  if (node === null || typeof node !== "object") return node;
  const copy = {};
  for (const [key, value] of Object.entries(node)) {
    copy[key] =
      key === "$ref" && typeof value === "string"
        ? value.replace(/^#\/components\/schemas\//, `${COMPONENTS_ID}#/$defs/`)
        : pointRefs(value);
  }
  return copy;
}
