/**
 * The webhook API: a regional REST API that serves every repository's webhook URL `POST
 * /prod/PROJECT/REPO` with ONE resource pair `/{project}/{repo}` and one POST method, an AWS-service
 * integration that calls CodeBuild `StartBuild`. The resource count stays 3 whatever the number of
 * repositories (REST API quota: 300 resources per API).
 *
 * What a path segment may select is written down in lib/webhook-routing.ts: only one of the
 * configured repositories, through a constant lookup table in the request template; no character of
 * the path or of the body is ever copied into the StartBuild request, and a path that is not a
 * configured repository starts nothing and is answered 404. Only the content type Backlog sends is
 * mapped, and `passthroughBehavior: NEVER` answers 415 to any other.
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
import { Fn, type ITerraformDependable, Token, ref } from "cdktf";
import { Construct } from "constructs";
import { STAGE_NAME } from "./naming";
import type { RepositorySet } from "./mirror-inputs";
import { type StringList, type Switch, countOf, declared, isListExpression, listHcl, listValue } from "./terraform-values";
import { type SourceIpPolicyContext, sourceIpPolicy, sourceIpPolicyDocument } from "./webhook-protection";
import {
  type WebhookRouteSpec,
  type WebhookRoutes,
  refusedResponseTemplate,
  startBuildRequestTemplate,
} from "./webhook-routing";

/** The content type of Backlog's Git webhook (a form with one `payload` field). */
export const WEBHOOK_CONTENT_TYPE = "application/x-www-form-urlencoded";

/** Static headers of the StartBuild call (values in single quotes: API Gateway literals). */
export const START_BUILD_REQUEST_PARAMETERS = {
  "integration.request.header.Content-Type": "'application/x-amz-json-1.1'",
  "integration.request.header.X-Amz-Target": "'CodeBuild_20161006.StartBuild'",
} as const;

/** Path parameters of the webhook method: `/{project}/{repo}`. */
export const WEBHOOK_PATH_PARTS = ["{project}", "{repo}"] as const;

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
    // For a path that is not a configured repository this becomes 404 (refusedResponseTemplate).
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

/**
 * Answer to a request for a path shape or method that has no method (API Gateway's default is a
 * 403): `/PROJECT`, `/A/B/C`, a GET.
 */
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
  /** Account of the API, for the resource policy's expanded ARN. */
  readonly accountId: string;
  /**
   * Source addresses allowed to invoke the API (resource policy), when {@link restricted}.
   */
  readonly sourceIps: StringList;
  /**
   * Whether the resource policy admitting only {@link sourceIps} exists.
   * @default true
   */
  readonly restricted?: Switch;
  /** The configured repositories: `PROJECT/REPO` and the project a push starts. */
  readonly routes: WebhookRoutes;
}

/** A repository's webhook, for outputs and tests. */
export interface WebhookRoute {
  /** `/PROJECT/REPO` below the stage. */
  readonly path: string;
  readonly url: string;
}

/** REST API, routes, deployment and stage. */
export class WebhookApi extends Construct {
  public readonly api: ApiGatewayRestApi;
  public readonly stage: ApiGatewayStage;
  /** By the key given in the props (`PROJECT/REPO`); empty when the routes are not known at synthesis (the module). */
  public readonly routes: ReadonlyMap<string, WebhookRoute>;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);

    this.api = new ApiGatewayRestApi(this, "Api", {
      name: `${props.name}-webhook`,
      description: "Backlog Git webhooks: POST /PROJECT/REPO of each mirrored repository",
      endpointConfiguration: { types: ["REGIONAL"] },
    });

    const projectResource = new ApiGatewayResource(this, "ProjectPath", {
      restApiId: this.api.id,
      parentId: this.api.rootResourceId,
      pathPart: WEBHOOK_PATH_PARTS[0],
    });
    const repoResource = new ApiGatewayResource(this, "RepositoryPath", {
      restApiId: this.api.id,
      parentId: projectResource.id,
      pathPart: WEBHOOK_PATH_PARTS[1],
    });
    const method = new ApiGatewayMethod(this, "Method", {
      restApiId: this.api.id,
      resourceId: repoResource.id,
      httpMethod: "POST",
      authorization: "NONE",
      apiKeyRequired: false,
      requestParameters: { "method.request.path.project": true, "method.request.path.repo": true },
    });
    const requestTemplate = startBuildRequestTemplate(props.routes);
    const integration = new ApiGatewayIntegration(this, "Integration", {
      restApiId: this.api.id,
      resourceId: repoResource.id,
      httpMethod: method.httpMethod,
      type: "AWS",
      integrationHttpMethod: "POST",
      uri: `arn:${props.partition}:apigateway:${props.region}:codebuild:action/StartBuild`,
      credentials: props.credentialsRoleArn,
      requestParameters: { ...START_BUILD_REQUEST_PARAMETERS },
      requestTemplates: { [WEBHOOK_CONTENT_TYPE]: requestTemplate },
      passthroughBehavior: "NEVER",
    });
    const responseTemplates = INTEGRATION_RESPONSES.map((r) =>
      r.statusCode === "502" ? refusedResponseTemplate(props.routes, r.template) : r.template,
    );
    const dependables: ITerraformDependable[] = [method, integration];
    // Every API Gateway resource the deployment snapshots, by its id (see the trigger below).
    const snapshotIds: string[] = [this.api.id, projectResource.id, repoResource.id, method.id, integration.id];
    INTEGRATION_RESPONSES.forEach((response, i) => {
      const methodResponse = new ApiGatewayMethodResponse(this, `Response${response.statusCode}`, {
        restApiId: this.api.id,
        resourceId: repoResource.id,
        httpMethod: method.httpMethod,
        statusCode: response.statusCode,
        responseModels: { "application/json": "Empty" },
      });
      const integrationResponse = new ApiGatewayIntegrationResponse(this, `IntegrationResponse${response.statusCode}`, {
        restApiId: this.api.id,
        resourceId: repoResource.id,
        httpMethod: method.httpMethod,
        statusCode: methodResponse.statusCode,
        selectionPattern: response.selectionPattern,
        responseTemplates: { "application/json": responseTemplates[i] },
        dependsOn: [integration],
      });
      dependables.push(methodResponse, integrationResponse);
      snapshotIds.push(methodResponse.id, integrationResponse.id);
    });
    // The 404 that refusedResponseTemplate sets by `$context.responseOverride.status`: declared as a
    // method response too, so the method's documented answers include it.
    const notFound = new ApiGatewayMethodResponse(this, "Response404", {
      restApiId: this.api.id,
      resourceId: repoResource.id,
      httpMethod: method.httpMethod,
      statusCode: "404",
      responseModels: { "application/json": "Empty" },
    });
    dependables.push(notFound);
    snapshotIds.push(notFound.id);

    const policyContext: SourceIpPolicyContext = {
      partition: props.partition,
      region: props.region,
      accountId: props.accountId,
      apiId: this.api.id,
    };
    const restricted = props.restricted ?? true;
    if (declared(restricted)) {
      const ips = props.sourceIps;
      dependables.push(
        new ApiGatewayRestApiPolicy(this, "Policy", {
          count: countOf(restricted),
          restApiId: this.api.id,
          // A list known at apply only (the module): Terraform encodes the same document.
          policy: isListExpression(ips) ? Fn.jsonencode(sourceIpPolicyDocument(listValue(ips), policyContext)) : sourceIpPolicy(ips, policyContext),
        }),
      );
    }
    const gatewayResponses = [
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
    ];
    dependables.push(...gatewayResponses);
    snapshotIds.push(...gatewayResponses.map((r) => r.id));

    // A deployment is a snapshot: redeploy whenever a route or its mapping changes. The literal
    // values are hashed here (token strings differ from one synthesis to the next)...
    const fingerprint = createHash("sha256")
      .update(
        JSON.stringify({
          action: "codebuild:action/StartBuild",
          parameters: START_BUILD_REQUEST_PARAMETERS,
          responses: INTEGRATION_RESPONSES,
          unknownRoute: UNKNOWN_ROUTE_RESPONSE,
          throttled: THROTTLED_RESPONSE,
          sourceIps: restricted === true && !isListExpression(props.sourceIps) ? props.sourceIps : restricted === false ? "any" : "input",
          requestTemplate,
          responseTemplates,
        }),
      )
      .digest("hex");
    // ...and the inputs Terraform only knows at apply enter the trigger as references, so that it is
    // recomputed then: the integration's credentials (the API role's ARN, new when the role is
    // replaced, e.g. by a `name` change), its URI (partition and region), and the id of every
    // resource the deployment snapshots (new when one is replaced). The provider's documentation of
    // aws_api_gateway_deployment recommends exactly this: "redeployment = sha1(jsonencode([
    // aws_api_gateway_resource.example.id, aws_api_gateway_method.example.id,
    // aws_api_gateway_integration.example.id]))", since depends_on orders but never redeploys
    // (terraform-provider-aws #13054, which added `triggers`). The resource policy is covered by its
    // literal source addresses above and by the API's id.
    // In the module the route table and the source addresses are inputs too.
    const routesHcl = Array.isArray(props.routes) ? undefined : (props.routes as RepositorySet).hcl;
    const moduleInputs = routesHcl === undefined ? [] : [Token.asString(ref(`jsonencode(${routesHcl})`))];
    if (isListExpression(props.sourceIps) || typeof restricted !== "boolean") {
      moduleInputs.push(Token.asString(ref(`jsonencode(${listHcl(props.sourceIps)})`)));
    }
    const routeInputs = [props.credentialsRoleArn, integration.uri, ...snapshotIds, ...moduleInputs];
    const deployment = new ApiGatewayDeployment(this, "Deployment", {
      restApiId: this.api.id,
      description: "Backlog webhook routes",
      triggers: { redeployment: Fn.sha256(Fn.join(",", [fingerprint, ...routeInputs])) },
      lifecycle: { createBeforeDestroy: true },
      dependsOn: dependables,
    });
    this.stage = new ApiGatewayStage(this, "Stage", {
      restApiId: this.api.id,
      deploymentId: deployment.id,
      stageName: STAGE_NAME,
    });

    const invokeUrl = this.stage.invokeUrl; // one token for all the URLs
    const known = Array.isArray(props.routes) ? (props.routes as readonly WebhookRouteSpec[]) : ((props.routes as RepositorySet).literal ?? []);
    this.routes = new Map(known.map((r) => [r.key, { path: `/${r.key}`, url: `${invokeUrl}/${r.key}` }]));
  }
}
