import { KEPT_FRAMES, withShortStackTraces } from "../lib/stack-traces";

const deep = (n: number): string => (n === 0 ? String(new Error("deep").stack) : deep(n - 1));

describe("withShortStackTraces", () => {
  test("keeps only the innermost frames of a trace made inside, with the message first", () => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 100;
    try {
      const inside = withShortStackTraces(() => deep(50));
      const outside = deep(50);
      expect(inside.split("\n")[0]).toBe("Error: deep");
      expect(inside.split("\n").filter((l) => l.trimStart().startsWith("at "))).toHaveLength(KEPT_FRAMES);
      expect(outside.split("\n").filter((l) => l.trimStart().startsWith("at ")).length).toBeGreaterThan(50);
    } finally {
      Error.stackTraceLimit = limit;
    }
  });

  test("restores the previous hook, also when the function throws, and returns the function's value", () => {
    const before = Error.prepareStackTrace;
    expect(withShortStackTraces(() => 42)).toBe(42);
    expect(() => withShortStackTraces(() => { throw new Error("x"); })).toThrow("x");
    expect(Error.prepareStackTrace).toBe(before);
  });
});
