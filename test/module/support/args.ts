/** The construct's props as the Terraform module's arguments (camelCase → snake_case, network split). */
import type { BacklogCodeCommitMirrorProps } from "../../../lib/props";

/** Props with every field writable and loosely typed (tests mutate them into bad shapes). */
export type Props = { -readonly [K in keyof BacklogCodeCommitMirrorProps]: any };

const snake = (k: string) => k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([a-z])(\d)/g, "$1_$2").toLowerCase();
function snakeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeKeys);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [snake(k), snakeKeys(x)]));
  return v;
}

/** The construct's props as the module's arguments. */
export function moduleArgs(p: Props): Record<string, unknown> {
  const { network, alerts, ...rest } = p;
  return {
    ...(snakeKeys(rest) as Record<string, unknown>),
    vpc_id: network.vpcId,
    subnet_ids: network.subnetIds,
    ...(alerts?.emails !== undefined ? { alert_emails: alerts.emails } : {}),
  };
}

