/**
 * The resource instances a synthesized configuration declares, as Terraform would plan them: one
 * per key of a `for_each` over a literal map. Shared by the unit suite (test/support/synth.ts) and the
 * e2e harness (tools/e2e/stack.ts); imports nothing, so that a harness can load it cheaply.
 */

/** The parts of a synthesized configuration that {@link instances} reads. */
export interface Configuration {
  readonly resource?: Record<string, Record<string, Record<string, any>>>;
  readonly locals?: Record<string, unknown>;
}

/** A resource instance: its address (`type.name` or `type.name["KEY"]`) and its arguments. */
export interface Instance {
  readonly address: string;
  /** The `for_each` key, for an instance of a `for_each` resource. */
  readonly key?: string;
  readonly body: Record<string, any>;
}

/** Replaces `each.key` and `each.value.FIELD` in every string of `value` as Terraform would for instance `key`. */
function eachSubstituted(value: unknown, key: string, each: Record<string, unknown>): unknown {
  if (typeof value === "string") {
    return value
      .replace(/\$\{each\.value\.([A-Za-z0-9_]+)\}/g, (m, field: string) => {
        if (typeof each[field] !== "string") throw new Error(`${m}: no string field ${field} in the for_each value of ${key}`);
        return each[field] as string;
      })
      .replace(/\$\{each\.key\}/g, key)
      .replace(/\[each\.key\]/g, `[${JSON.stringify(key)}]`);
  }
  if (Array.isArray(value)) return value.map((x) => eachSubstituted(x, key, each));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, eachSubstituted(x, key, each)]));
  }
  return value;
}

/**
 * The literal map a resource's `for_each` names (an object, or `${local.NAME}` of a literal local
 * value); undefined when it is an expression known only at plan (such as the mount targets' map of
 * availability zones).
 */
export function forEachMap(configuration: Configuration, forEach: unknown): Record<string, Record<string, unknown>> | undefined {
  if (typeof forEach === "string") {
    const m = /^\$\{local\.([A-Za-z0-9_-]+)\}$/.exec(forEach);
    const local = m === null ? undefined : configuration.locals?.[m[1]];
    return local !== null && typeof local === "object" ? (local as Record<string, Record<string, unknown>>) : undefined;
  }
  if (forEach !== null && typeof forEach === "object") return forEach as Record<string, Record<string, unknown>>;
  throw new Error(`unexpected for_each ${JSON.stringify(forEach)}`);
}

const instanceCache = new WeakMap<object, Map<string, Instance[]>>();

/**
 * Every instance of the resources of a type, as Terraform would plan them from this configuration:
 * a resource with `for_each` over a literal map (directly or through a local value) gives one
 * instance per key, with `each.key` and `each.value.*` substituted; any other resource (a `for_each`
 * over an expression included, left as written) is one instance. The same objects are returned on every call for a configuration (so that a body found
 * here can be given to {@link addressOf}).
 */
export function instances(configuration: Configuration, type: string): Instance[] {
  let byType = instanceCache.get(configuration);
  if (byType === undefined) instanceCache.set(configuration, (byType = new Map()));
  let found = byType.get(type);
  if (found === undefined) {
    found = Object.entries(configuration.resource?.[type] ?? {}).flatMap(([name, body]): Instance[] => {
      const map = body.for_each === undefined ? undefined : forEachMap(configuration, body.for_each);
      if (map === undefined) return [{ address: `${type}.${name}`, body }];
      const { for_each: _forEach, ...rest } = body;
      return Object.entries(map).map(([key, each]) => ({
        address: `${type}.${name}[${JSON.stringify(key)}]`,
        key,
        body: eachSubstituted(rest, key, each) as Record<string, any>,
      }));
    });
    byType.set(type, found);
  }
  return found;
}

