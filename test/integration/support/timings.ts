/**
 * Wall time of each step of a cycle, printed at the end of the cycle and appended to a JSON file
 * (INTEGRATION_TIMINGS_FILE, default: integration-timings.json in the OS temp directory).
 */
import { appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

export const TIMINGS_FILE = process.env.INTEGRATION_TIMINGS_FILE ?? path.join(tmpdir(), "integration-timings.jsonl");

export class Timings {
  private readonly steps: Array<{ step: string; seconds: number }> = [];
  private started = Date.now();
  private readonly facts: Record<string, unknown> = {};

  constructor(readonly cycle: string) {}

  /** Marks the start of the whole cycle. */
  start(): void {
    this.started = Date.now();
  }

  /** Times `fn` as `step`. */
  async time<T>(step: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      this.record(step, Date.now() - t0);
    }
  }

  record(step: string, ms: number): void {
    this.steps.push({ step, seconds: Math.round(ms / 100) / 10 });
  }

  note(name: string, value: unknown): void {
    this.facts[name] = value;
  }

  /** Prints the table and appends one JSON line to {@link TIMINGS_FILE}. */
  report(): void {
    const total = Math.round((Date.now() - this.started) / 100) / 10;
    const width = Math.max(...this.steps.map((s) => s.step.length), 12);
    const lines = [
      `\n--- ${this.cycle}: wall time per step ---`,
      ...this.steps.map((s) => `  ${s.step.padEnd(width)}  ${s.seconds.toFixed(1).padStart(6)} s`),
      `  ${"whole cycle".padEnd(width)}  ${total.toFixed(1).padStart(6)} s`,
      ...Object.entries(this.facts).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
      "",
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    appendFileSync(
      TIMINGS_FILE,
      `${JSON.stringify({ cycle: this.cycle, at: new Date().toISOString(), steps: this.steps, wholeCycleSeconds: total, ...this.facts })}\n`,
    );
  }
}
