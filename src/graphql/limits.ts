import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { useCSRFPrevention } from "@graphql-yoga/plugin-csrf-prevention";
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Config } from "../config.ts";

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
 * depth, aliases, tokens, static cost (which multiplies by literal `first` arguments) and
 * directives (graphql-armor, refused before anything runs), introspection and field suggestions
 * when introspection is off (they would reveal the schema), and CSRF prevention. The body size
 * limit is HTTP's: src/server.ts.
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
      costLimit: { maxCost: limits.maxCost, ...refuseAsBadInput },
      maxDirectives: { n: limits.maxDirectives, ...refuseAsBadInput },
      blockFieldSuggestion: { enabled: !config.introspection },
    }) as Plugin,
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

/** `__schema` and `__type` become validation errors; `__typename` stays, clients need it. */
function refuseIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}
