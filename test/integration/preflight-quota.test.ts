/**
 * preflight's CodeBuild quota check (scripts/preflight.ts, checkQuota) against the emulator, which
 * answers Service Quotas for the CodeBuild concurrency quotas preflight reads
 * (tools/emulator/moto_launcher.py, patch_servicequotas_codebuild): an applied value of 20 unless a
 * test sets another with `POST /moto-api/static/service-quotas/applied`, AWS's default of 1 from
 * GetAWSDefaultServiceQuota. Stock moto answered HTTP 500, which preflight reported as a warning.
 * Both ways: enough → ok; 1 → an error naming the quota, its code and the request line.
 */
import { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { type Emulator, EMULATOR_ENV, startEmulator } from "../../tools/emulator/moto";
import { type Clients, checkQuota } from "../../scripts/preflight";
import type { StackConfig } from "../../lib/validation";
import { exampleConfig } from "../support/synth";
import { requireMoto } from "../../tools/terraform/tools";

const SMALL = "L-5ED1D25B";
const RESOURCE = `CodeBuild quota "Concurrently running builds for ARM/Small environment" (${SMALL})`;

let emulator: Emulator;
let quotas: ServiceQuotasClient;

beforeAll(async () => {
  requireMoto();
  emulator = await startEmulator();
  quotas = new ServiceQuotasClient({
    endpoint: emulator.endpoint,
    region: EMULATOR_ENV.AWS_REGION,
    credentials: { accessKeyId: EMULATOR_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: EMULATOR_ENV.AWS_SECRET_ACCESS_KEY },
    maxAttempts: 1,
  });
}, 60_000);

afterAll(async () => {
  quotas?.destroy();
  await emulator?.stop();
});

/** Sets (or, with null, removes) the applied value of the ARM small quota in the emulator. */
async function setApplied(value: number | null): Promise<void> {
  const res = await fetch(`${emulator.endpoint}/moto-api/static/service-quotas/applied`, {
    method: "POST",
    body: JSON.stringify({ region: EMULATOR_ENV.AWS_REGION, quotas: [{ ServiceCode: "codebuild", QuotaCode: SMALL, Value: value }] }),
  });
  expect(res.status).toBe(200);
}

const config = (repositories: number): StackConfig =>
  ({ ...exampleConfig(), region: EMULATOR_ENV.AWS_REGION, repositories: Array.from({ length: repositories }, (_, i) => ({ projectKey: "DEMO", repository: `r${i}` })) }) as never;
const check = () => (c: StackConfig) => checkQuota(c, { quotas } as unknown as Clients);

test("an account with room (the emulator's applied value, 20): ok, with what the design needs", async () => {
  expect(await check()(config(4))).toEqual([{ level: "ok", resource: RESOURCE, message: expect.stringMatching(/^is 20, enough: the design needs 5 /) }]);
});

test("a quota of 1: an error that says why and names the quota to raise with its request line", async () => {
  await setApplied(1);
  const [finding] = await check()(config(1));
  expect(finding.level).toBe("error");
  expect(finding.resource).toBe(RESOURCE);
  expect(finding.message).toContain("is 1; the design needs 2: 1 sync(s) may run at once");
  expect(finding.message).toContain(`Raise it: aws service-quotas request-service-quota-increase --service-code codebuild --quota-code ${SMALL} --desired-value 2 --region ${EMULATOR_ENV.AWS_REGION}`);
});

test("no applied value: AWS's default (1) is read and named as such", async () => {
  await setApplied(null);
  const [finding] = await check()(config(1));
  expect([finding.level, finding.message]).toEqual(["error", expect.stringContaining("is 1 (the default: no applied value); the design needs 2")]);
  await setApplied(20);
  expect((await check()(config(1)))[0].level).toBe("ok");
});
