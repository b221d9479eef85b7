import { createGraphQLError, maskError as yogaMaskError, type YogaMaskedErrorOpts } from "graphql-yoga";
import { GraphQLError } from "graphql";
import { isDatabaseUnavailable } from "../db/outage.ts";

/** Seconds a client is asked to wait before trying again while the database is away. */
const RETRY_AFTER_SECONDS = 5;

/**
 * What a caller learns of an error that is not one of ours (GraphQLErrors we throw on purpose
 * pass unchanged): a database outage is SERVICE_UNAVAILABLE with HTTP 503 and Retry-After, so
 * clients and load balancers know to try again; anything else is "Unexpected error." with
 * INTERNAL_SERVER_ERROR. Never a stack, SQL, or Prisma's text, whatever NODE_ENV says: yoga
 * itself logs the original error for the operator.
 */
export const maskedErrors: Partial<YogaMaskedErrorOpts> = {
  isDev: false,
  maskError(error, message) {
    if (!isDatabaseUnavailable(error)) return yogaMaskError(error, message, false);
    return createGraphQLError("The service is unavailable for a moment (database unreachable); try again shortly", {
      ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
      extensions: {
        code: "SERVICE_UNAVAILABLE",
        http: { status: 503, headers: { "retry-after": String(RETRY_AFTER_SECONDS) } },
      },
    });
  },
};
