/**
 * The webhook API: a regional REST API with one fixed route per repository, `POST /PROJECT/REPO`,
 * each an AWS-service integration that calls CodeBuild `StartBuild` for that repository's project.
 *
 * The request template is a constant per route: it names the project and nothing else, so no field of
 * the webhook body ever reaches a build. Only the content type Backlog sends is mapped, and
 * `passthroughBehavior: NEVER` answers 415 to any other.
 */
import { createHash } from "node:crypto";
import { ApiGatewayDeployment } from "@cdktf/provider-aws/lib/api-gateway-deployment";
import { ApiGatewayGatewayResponse } from "@cdktf/provider-aws/lib/api-gateway-gateway-response";
import { ApiGatewayIntegration } from "@cdktf/provider-aws/lib/api-gateway-integration";
import { ApiGatewayIntegrationResponse } from "@cdktf/provider-aws/lib/api-gateway-integration-response";
import { ApiGatewayMethod } from "@cdktf/provider-aws/lib/api-gateway-method";
import { ApiGatewayMethodResponse } from "@cdktf/provider-aws/lib/api-gateway-method-response";
import { ApiGatewayResource } from "@cdktf/provider-aws/lib/api-gateway-resource";
import { ApiGatewayRestApi } from "@cdktf/provider-aws/lib/api-gateway-rest-api";
import { ApiGatewayRestApiPolicy } from "@cdktf/provider-aws/lib/api-gateway-rest-api-policy";
import { ApiGatewayStage } from "@cdktf/provider-aws/lib/api-gateway-stage";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { STAGE_NAME } from "./naming";
import { sourceIpPolicy } from "./webhook-protection";

/** The content type of Backlog's Git webhook (a form with one `payload` field). */
export const WEBHOOK_CONTENT_TYPE = "application/x-www-form-urlencoded";

/** Static headers of the StartBuild call (values in single quotes: API Gateway literals). */
export const START_BUILD_REQUEST_PARAMETERS = {
  "integration.request.header.Content-Type": "'application/x-amz-json-1.1'",
  "integration.request.header.X-Amz-Target": "'CodeBuild_20161006.StartBuild'",
} as const;

/** The request mapping template of a route: a constant JSON body naming one project. */
export function startBuildTemplate(projectName: string): string {
  return JSON.stringify({ projectName });
}

/**
 * How CodeBuild's answer to StartBuild becomes the webhook's answer. For an AWS integration the
 * selection pattern is matched against the back end's HTTP status. CodeBuild answers 400 for a
 * refused build (project concurrency limit reached, account limit, unknown project) and 5xx for its
 * own faults: both become 5xx here, so that Backlog retries and the alarm sees them; only a started
 * build answers 200.
 */
export const INTEGRATION_RESPONSES = [
  {
    statusCode: "200",
    selectionPattern: undefined,
    template: `{"started": true, "buildId": "$util.escapeJavaScript($input.path('$.build.id'))"}`,
  },
  {
    statusCode: "502",
    selectionPattern: "4\\d{2}",
    template: `{"started": false, "reason": "CodeBuild refused to start the sync", "error": "$util.escapeJavaScript($input.path('$.__type'))"}`,
  },
  {
    statusCode: "503",
    selectionPattern: "5\\d{2}",
    template: `{"started": false, "reason": "CodeBuild is unavailable", "error": "$util.escapeJavaScript($input.path('$.__type'))"}`,
  },
] as const;

/** Answer to a request for a path or method that has no route (API Gateway's default is a 403). */
export const UNKNOWN_ROUTE_RESPONSE = {
  statusCode: "404",
  template: `{"message": "No webhook route here: POST /PROJECT/REPO"}`,
} as const;

/**
 * Answer to a throttled request. API Gateway's default is 429, which Backlog does not retry (it
 * retries 5xx only): a push throttled during a burst would then wait for the next push or the
 * scheduled re-sync. A 503 with Retry-After makes Backlog deliver it again.
 */
export const THROTTLED_RESPONSE = {
  statusCode: "503",
  retryAfterSeconds: 10,
  template: `{"message": "Too many webhook deliveries; retry later"}`,
} as const;

/** Props of {@link WebhookApi}. */
export interface WebhookApiProps {
  /** Prefix of the API name. */
  readonly name: string;
  /** Partition and region of the integration URI. */
  readonly partition: string;
  readonly region: string;
  /** Role API Gateway assumes to call StartBuild. */
  readonly credentialsRoleArn: string;
  /**
   * Source addresses allowed to invoke the API (resource policy).
   * @default - no resource policy: any source may call
   */
  readonly sourceIps?: readonly string[];
  /** One route per entry: path parts and the project it starts. */
  readonly routes: ReadonlyArray<{ readonly key: string; readonly pathParts: readonly string[]; readonly projectName: string }>;
}

/** A route's resources, for outputs and tests. */
export interface WebhookRoute {
  readonly path: string;
  readonly url: string;
  readonly integration: ApiGatewayIntegration;
}

/** REST API, routes, deployment and stage. */
export class WebhookApi extends Construct {
  public readonly api: ApiGatewayRestApi;
  public readonly stage: ApiGatewayStage;
  /** By the key given in the props (`PROJECT/REPO`). */
  public readonly routes: ReadonlyMap<string, WebhookRoute>;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);

    this.api = new ApiGatewayRestApi(this, "Api", {
      name: `${props.name}-webhook`,
      description: "Backlog Git webhooks: one POST route per mirrored repository",
      endpointConfiguration: { types: ["REGIONAL"] },
    });

    // Path parts are shared between routes (`/PROJECT` serves every repository of the project).
    const resources = new Map<string, ApiGatewayResource>();
    const resourceFor = (parts: readonly string[]): ApiGatewayResource => {
      const path = `/${parts.join("/")}`;
      let resource = resources.get(path);
      if (resource === undefined) {
        const parentId = parts.length === 1 ? this.api.rootResourceId : resourceFor(parts.slice(0, -1)).id;
        resource = new ApiGatewayResource(this, `Path-${parts.join("-")}`, {
          restApiId: this.api.id,
          parentId,
          pathPart: parts[parts.length - 1],
        });
        resources.set(path, resource);
      }
      return resource;
    };

    const integrationUri = `arn:${props.partition}:apigateway:${props.region}:codebuild:action/StartBuild`;
    const dependables: ITerraformDependable[] = [];
    const routes = new Map<string, { path: string; integration: ApiGatewayIntegration }>();
    for (const route of props.routes) {
      const resource = resourceFor(route.pathParts);
      const path = `/${route.pathParts.join("/")}`;
      const routeScope = new Construct(this, `Route-${route.pathParts.join("-")}`);
      const method = new ApiGatewayMethod(routeScope, "Method", {
        restApiId: this.api.id,
        resourceId: resource.id,
        httpMethod: "POST",
        authorization: "NONE",
        apiKeyRequired: false,
      });
      const integration = new ApiGatewayIntegration(routeScope, "Integration", {
        restApiId: this.api.id,
        resourceId: resource.id,
        httpMethod: method.httpMethod,
        type: "AWS",
        integrationHttpMethod: "POST",
        uri: integrationUri,
        credentials: props.credentialsRoleArn,
        requestParameters: { ...START_BUILD_REQUEST_PARAMETERS },
        requestTemplates: { [WEBHOOK_CONTENT_TYPE]: startBuildTemplate(route.projectName) },
        passthroughBehavior: "NEVER",
      });
      for (const response of INTEGRATION_RESPONSES) {
        const methodResponse = new ApiGatewayMethodResponse(routeScope, `Response${response.statusCode}`, {
          restApiId: this.api.id,
          resourceId: resource.id,
          httpMethod: method.httpMethod,
          statusCode: response.statusCode,
          responseModels: { "application/json": "Empty" },
        });
        const integrationResponse = new ApiGatewayIntegrationResponse(
          routeScope,
          `IntegrationResponse${response.statusCode}`,
          {
            restApiId: this.api.id,
            resourceId: resource.id,
            httpMethod: method.httpMethod,
            statusCode: methodResponse.statusCode,
            selectionPattern: response.selectionPattern,
            responseTemplates: { "application/json": response.template },
            dependsOn: [integration],
          },
        );
        dependables.push(methodResponse, integrationResponse);
      }
      dependables.push(method, integration);
      routes.set(route.key, { path, integration });
    }

    if (props.sourceIps !== undefined) {
      dependables.push(
        new ApiGatewayRestApiPolicy(this, "Policy", { restApiId: this.api.id, policy: sourceIpPolicy(props.sourceIps) }),
      );
    }
    dependables.push(
      new ApiGatewayGatewayResponse(this, "UnknownRoute", {
        restApiId: this.api.id,
        responseType: "MISSING_AUTHENTICATION_TOKEN",
        statusCode: UNKNOWN_ROUTE_RESPONSE.statusCode,
        responseTemplates: { "application/json": UNKNOWN_ROUTE_RESPONSE.template },
      }),
      new ApiGatewayGatewayResponse(this, "Throttled", {
        restApiId: this.api.id,
        responseType: "THROTTLED",
        statusCode: THROTTLED_RESPONSE.statusCode,
        responseParameters: {
          "gatewayresponse.header.Retry-After": `'${THROTTLED_RESPONSE.retryAfterSeconds}'`,
        },
        responseTemplates: { "application/json": THROTTLED_RESPONSE.template },
      }),
    );

    // A deployment is a snapshot: redeploy whenever a route or its mapping changes. Only literal
    // values go into the fingerprint (token strings differ from one synthesis to the next).
    const fingerprint = createHash("sha256")
      .update(
        JSON.stringify({
          action: "codebuild:action/StartBuild",
          parameters: START_BUILD_REQUEST_PARAMETERS,
          responses: INTEGRATION_RESPONSES,
          unknownRoute: UNKNOWN_ROUTE_RESPONSE,
          throttled: THROTTLED_RESPONSE,
          sourceIps: props.sourceIps ?? "any",
          routes: props.routes.map((r) => [r.pathParts, startBuildTemplate(r.projectName)]),
        }),
      )
      .digest("hex");
    const deployment = new ApiGatewayDeployment(this, "Deployment", {
      restApiId: this.api.id,
      description: "Backlog webhook routes",
      triggers: { redeployment: fingerprint },
      lifecycle: { createBeforeDestroy: true },
      dependsOn: dependables,
    });
    this.stage = new ApiGatewayStage(this, "Stage", {
      restApiId: this.api.id,
      deploymentId: deployment.id,
      stageName: STAGE_NAME,
    });

    this.routes = new Map(
      [...routes].map(([key, r]) => [key, { ...r, url: `${this.stage.invokeUrl}${r.path}` }]),
    );
  }
}
