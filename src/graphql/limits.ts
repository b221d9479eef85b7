import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { useCSRFPrevention } from "@graphql-yoga/plugin-csrf-prevention";
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Config } from "../config.ts";
import { operationCost, type OperationArgs } from "./cost.ts";

/**
 * Headers that mark a request as sent by a GraphQL client rather than by a form or an <img> on
 * another site. A browser cannot add any of them to a cross-site request without a CORS
 * preflight, so a "simple" request (GET, or a POST of a form content type) must carry one.
 * JSON POSTs, which every client of this API sends, are preflighted anyway and need none.
 */
const CSRF_HEADERS = ["x-graphql-client", "apollo-require-preflight", "x-graphql-yoga-csrf"];

/**
 * Every limit on what one GraphQL request may ask, in one place. They are yoga plugins, so they
 * hold over HTTP and over WebSocket alike (graphql-ws runs through `yoga.getEnveloped`):
 * depth, aliases, tokens and directives (graphql-armor), and the cost (the objects the answer
 * may hold at most: ./cost.ts), all refused before any field runs; introspection and field
 * suggestions when introspection is off (they would reveal the schema), and CSRF prevention. The
 * body size limit is HTTP's: src/server.ts.
 */
export function requestLimitPlugins(
  config: Pick<Config, "limits" | "introspection" | "csrfPrevention">,
): Plugin[] {
  const { limits } = config;
  return [
    EnvelopArmorPlugin({
      maxDepth: { n: limits.maxDepth, ...refuseAsBadInput },
      maxAliases: { n: limits.maxAliases, ...refuseAsBadInput },
      maxTokens: { n: limits.maxTokens },
      costLimit: { enabled: false },
      maxDirectives: { n: limits.maxDirectives, ...refuseAsBadInput },
      blockFieldSuggestion: { enabled: !config.introspection },
    }) as Plugin,
    costLimit(limits.maxCost),
    ...(config.introspection ? [] : [refuseIntrospection()]),
    ...(config.csrfPrevention ? [useCSRFPrevention({ requestHeaders: CSRF_HEADERS })] : []),
  ];
}

/**
 * A query over a validation limit is a validation error with extensions.code BAD_USER_INPUT,
 * like any other rule the request breaks (HTTP 400 to clients that accept
 * application/graphql-response+json); armor's own "Syntax Error" prefix would mislead. The token
 * limit applies while parsing and stays a syntax error.
 */
const refuseAsBadInput = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(
        new GraphQLError(error.message.replace(/^Syntax Error: /, ""), { extensions: { code: "BAD_USER_INPUT" } }),
      ),
  ],
};

/**
 * GRAPHQL_MAX_COST: an operation whose answer may hold more objects than `maxCost` (./cost.ts)
 * is refused with BAD_USER_INPUT before any field runs. The cost may depend on the variables
 * (`first: $first`), so it is measured at the start of execution, for the request's own
 * variables (yoga caches validation by document: a rule there would answer for the first
 * request's). Variables that do not fit are left to execution, which reports them.
 */
function costLimit(maxCost: number): Plugin {
  const refusal = (args: OperationArgs) => {
    const cost = operationCost(args);
    if (cost === null || cost <= maxCost) return null;
    const message = `Query Cost limit of ${maxCost} exceeded, found ${cost}.`;
    return { errors: [new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } })] };
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = refusal(args);
      if (refused) setResultAndStopExecution(refused);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = refusal(args);
      if (refused) setResultAndStopExecution(refused);
    },
  };
}

/** `__schema` and `__type` become validation errors; `__typename` stays, clients need it. */
function refuseIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}
