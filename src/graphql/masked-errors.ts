import { PothosValidationError } from "@pothos/core";
import { createGraphQLError, maskError as yogaMaskError, type YogaMaskedErrorOpts } from "graphql-yoga";
import { GraphQLError } from "graphql";
import { isDatabaseUnavailable } from "../db/outage.ts";
import { SubscriberTooSlowError } from "../realtime/stock-update-stream.ts";

/** Seconds a client is asked to wait before trying again while the database is away. */
const RETRY_AFTER_SECONDS = 5;

/**
 * What a caller learns of an error that is not one of ours (GraphQLErrors we throw on purpose
 * pass unchanged): a database outage is SERVICE_UNAVAILABLE with HTTP 503 and Retry-After, so
 * clients and load balancers know to try again; anything else is "Unexpected error." with
 * INTERNAL_SERVER_ERROR. Never a stack, SQL, or Prisma's text, whatever NODE_ENV says: yoga
 * itself logs the original error for the operator. Two errors of other layers are the client's
 * to act on and keep their message: Pothos' checks of connection arguments (a cursor that is not
 * one of ours, a negative page size) are BAD_USER_INPUT, and a live-update subscription ended
 * for falling behind is SUBSCRIBER_TOO_SLOW.
 */
export const maskedErrors: Partial<YogaMaskedErrorOpts> = {
  isDev: false,
  maskError(error, message) {
    const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
    const located = error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {};
    if (original instanceof PothosValidationError) {
      return createGraphQLError(original.message, { ...located, extensions: { code: "BAD_USER_INPUT" } });
    }
    if (original instanceof SubscriberTooSlowError) {
      return createGraphQLError(original.message, { ...located, extensions: { code: original.code } });
    }
    if (!isDatabaseUnavailable(error)) return yogaMaskError(error, message, false);
    return createGraphQLError("The service is unavailable for a moment (database unreachable); try again shortly", {
      ...located,
      extensions: {
        code: "SERVICE_UNAVAILABLE",
        http: { status: 503, headers: { "retry-after": String(RETRY_AFTER_SECONDS) } },
      },
    });
  },
};
