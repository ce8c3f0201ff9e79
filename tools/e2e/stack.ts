/**
 * Synthesizes the product (main.ts `synthesize`) for a test configuration and reads what the
 * harness needs out of the resulting cdk.tf.json: the CodeBuild projects (buildspec, file-system
 * locations) and the API Gateway routes (method, integration, responses). Nothing here copies the
 * product's templates: every value comes from the synthesized JSON.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { instances } from "../terraform/instances";
import { run } from "./proc";
import { terraformLiteral } from "../terraform/template";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const STACK_NAME = "backlog-codecommit-mirror";

type Json = Record<string, any>;

/** Writes `config` to DIR/config.json and synthesizes it into DIR/cdktf.out in a child process. */
export function synthesizeStack(dir: string, config: Json): Stack {
  const configFile = path.join(dir, "config.json");
  const outdir = path.join(dir, "cdktf.out");
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  run(
    process.execPath,
    ["--import", "tsx", "-e", `require(${JSON.stringify(path.join(REPO_ROOT, "main.ts"))}).synthesize(process.argv[1], process.argv[2])`, configFile, outdir],
    { cwd: REPO_ROOT },
  );
  return Stack.read(path.join(outdir, "stacks", STACK_NAME, "cdk.tf.json"));
}

/** `${aws_type.name.attr}` → [type, name, attr]. */
function reference(value: unknown): [string, string, string] | undefined {
  const m = typeof value === "string" ? /^\$\{([a-z0-9_]+)\.([^.}]+)\.([a-z_]+)\}$/.exec(value) : null;
  return m === null ? undefined : [m[1], m[2], m[3]];
}

export interface ApiRoute {
  /** `/PROJECT/REPO` */
  readonly path: string;
  readonly httpMethod: string;
  readonly method: Json;
  readonly integration: Json;
  readonly integrationResponses: Json[];
  readonly methodResponses: Json[];
}

/**
 * The ARN AWS gives a resource, from its configured name, for the types whose ARN a build's
 * settings reference (each service's documented ARN format: Service Authorization Reference,
 * resource types).
 */
const COMPUTED_ARNS: Record<string, (ctx: { readonly accountId: string; readonly region: string }, name: string) => string> = {
  aws_sfn_state_machine: (ctx, name) => `arn:aws:states:${ctx.region}:${ctx.accountId}:stateMachine:${name}`,
  aws_sns_topic: (ctx, name) => `arn:aws:sns:${ctx.region}:${ctx.accountId}:${name}`,
  aws_dynamodb_table: (ctx, name) => `arn:aws:dynamodb:${ctx.region}:${ctx.accountId}:table/${name}`,
};

export class Stack {
  private constructor(
    readonly file: string,
    readonly json: Json,
  ) {}

  static read(file: string): Stack {
    return new Stack(file, JSON.parse(readFileSync(file, "utf8")));
  }

  /**
   * The instances of the resources of a type, as `[NAME, arguments]` (NAME with its `["KEY"]` for an
   * instance of a `for_each` resource, whose `each.*` are substituted: tools/terraform/instances.ts).
   */
  resources(type: string): Array<[string, Json]> {
    return instances(this.json, type).map((i) => [i.address.slice(type.length + 1), i.body]);
  }

  /** The `aws_codebuild_project` named `name`. */
  project(name: string): Json {
    const found = this.resources("aws_codebuild_project").find(([, p]) => p.name === name);
    if (found === undefined) throw new Error(`no aws_codebuild_project named ${name} in ${this.file}`);
    return found[1];
  }

  /** Name of the bucket the sync projects save backups to (their BACKUP_BUCKET variable). */
  backupBucketName(accountId: string): string {
    const values = new Set(
      this.resources("aws_codebuild_project").flatMap(([, p]) =>
        ((p.environment?.environment_variable ?? []) as Json[]).filter((v) => v.name === "BACKUP_BUCKET").map((v) => this.literal(v.value, accountId)),
      ),
    );
    if (values.size !== 1) throw new Error(`expected one BACKUP_BUCKET value across the projects, found ${values.size}`);
    return [...values][0];
  }

  projectNames(): string[] {
    return this.resources("aws_codebuild_project").map(([, p]) => p.name as string);
  }

  /**
   * A string with Terraform references resolved as an apply would: `${aws_T.N.attr}` to the
   * resource's configured `attr` (itself resolved), `${data.aws_caller_identity.N.account_id}` and
   * `${data.aws_region.N.name}` to the given account and region. Anything else is refused.
   */
  resolve(value: string, ctx: { readonly accountId: string; readonly region: string }): string {
    const out = value.replace(/\$\{(data\.)?([a-z0-9_]+)\.([^.}]+)\.([a-z_]+)\}/g, (m, data: string | undefined, type: string, name: string, attr: string) => {
      if (data !== undefined) {
        if (type === "aws_caller_identity" && attr === "account_id") return ctx.accountId;
        if (type === "aws_region" && attr === "name") return ctx.region;
        throw new Error(`cannot resolve ${m}`);
      }
      const target = this.json.resource?.[type]?.[name];
      if (target !== undefined && attr === "arn" && typeof target[attr] !== "string" && typeof target.name === "string") {
        const arn = COMPUTED_ARNS[type];
        if (arn !== undefined) return arn(ctx, this.resolve(target.name, ctx));
      }
      if (target === undefined || typeof target[attr] !== "string") throw new Error(`cannot resolve ${m}`);
      return this.resolve(target[attr], ctx);
    });
    return terraformLiteral(out, `the resolved value of ${value}`);
  }

  /** The stage name of the webhook API. */
  stageName(): string {
    const stages = this.resources("aws_api_gateway_stage");
    if (stages.length !== 1) throw new Error(`expected one aws_api_gateway_stage, found ${stages.length}`);
    return stages[0][1].stage_name;
  }

  /**
   * A value as Terraform would apply it: same-stack references resolved, the caller identity's
   * account id replaced by `accountId` (the emulator's).
   */
  literal(value: string, accountId: string): string {
    const resolved = String(this.deref(value)).replace(/\$\{data\.aws_caller_identity\.[^.}]+\.account_id\}/g, accountId);
    return terraformLiteral(resolved, `the value ${value}`);
  }

  /** The value of a same-stack reference such as `${aws_api_gateway_method.X.http_method}`. */
  private deref(value: unknown): unknown {
    const ref = reference(value);
    if (ref === undefined) return value;
    const [type, name, attr] = ref;
    const target = this.json.resource?.[type]?.[name];
    if (target === undefined || !(attr in target)) return value;
    return this.deref(target[attr]);
  }

  /** Full path of an API Gateway resource reference (`${aws_api_gateway_resource.X.id}` or the root). */
  private resourcePath(resourceRef: unknown): string {
    const ref = reference(resourceRef);
    if (ref === undefined) throw new Error(`unresolvable API resource reference: ${String(resourceRef)}`);
    const [type, name, attr] = ref;
    if (type === "aws_api_gateway_rest_api" && attr === "root_resource_id") return "";
    if (type !== "aws_api_gateway_resource" || attr !== "id") throw new Error(`unexpected API resource reference ${String(resourceRef)}`);
    const res = this.json.resource.aws_api_gateway_resource[name];
    return `${this.resourcePath(res.parent_id)}/${res.path_part}`;
  }

  /** Every method of the REST API with its integration and responses, as synthesized. */
  apiRoutes(): ApiRoute[] {
    const sameTarget = (a: Json, b: Json): boolean =>
      a.resource_id === b.resource_id && this.deref(a.http_method) === this.deref(b.http_method);
    return this.resources("aws_api_gateway_method").map(([, method]) => {
      const integrations = this.resources("aws_api_gateway_integration").filter(([, i]) => sameTarget(i, method));
      if (integrations.length !== 1) throw new Error(`method ${method.http_method} has ${integrations.length} integrations`);
      return {
        path: this.resourcePath(method.resource_id),
        httpMethod: method.http_method,
        method,
        integration: integrations[0][1],
        integrationResponses: this.resources("aws_api_gateway_integration_response")
          .filter(([, r]) => sameTarget(r, method))
          .map(([, r]) => ({ ...r, status_code: this.deref(r.status_code) })),
        methodResponses: this.resources("aws_api_gateway_method_response")
          .filter(([, r]) => sameTarget(r, method))
          .map(([, r]) => r),
      };
    });
  }
}
