import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";

/**
 * One live update reaches thousands of subscribers at once, and it is the same object for all of
 * them (a process parses each Redis message once). Executing the subscription's selection on it
 * once per subscriber was most of the CPU of a fan-out (bench/README.md). For the subscription
 * fields named here, whose results depend on nothing but the update and the operation (no
 * context, no per-viewer fields), each update is executed once per distinct operation (document,
 * variables and operation name) and the result is shared by every subscriber of that operation.
 * The source stream is still created per subscriber, through the field's own `subscribe`, so
 * filtering by store and items and the slow-subscriber rules are untouched.
 */
export function useSharedSubscriptionResults(fields: ReadonlySet<string>): Plugin {
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 0;
  /** per update: the result of each operation that executed it so far */
  const results = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>();

  const operationKey = (args: ExecutionArgs) => {
    let id = documentIds.get(args.document);
    if (id === undefined) documentIds.set(args.document, (id = nextDocumentId++));
    return `${id}|${args.operationName ?? ""}|${JSON.stringify(args.variableValues ?? {})}`;
  };

  const resultFor = (args: ExecutionArgs, key: string, update: unknown) => {
    if (typeof update !== "object" || update === null) return execute({ ...args, rootValue: update });
    let byOperation = results.get(update);
    if (!byOperation) results.set(update, (byOperation = new Map()));
    let result = byOperation.get(key);
    if (!result) byOperation.set(key, (result = execute({ ...args, rootValue: update })));
    return result;
  };

  return {
    onSubscribe({ args, setSubscribeFn }) {
      if (!selectsOnly(args.document, args.operationName, fields)) return;
      setSubscribeFn(async (subscribeArgs: ExecutionArgs) => {
        const stream = await createSourceEventStream(subscribeArgs);
        if (!isAsyncIterable(stream)) return stream;
        const key = operationKey(subscribeArgs);
        return mapStream(stream as AsyncIterable<unknown>, (update) => resultFor(subscribeArgs, key, update));
      });
    },
  };
}

/** Whether the operation's root selections are all among `fields` (aliases and all). */
function selectsOnly(document: DocumentNode, operationName: string | null | undefined, fields: ReadonlySet<string>) {
  const operation = document.definitions.find(
    (definition) => definition.kind === "OperationDefinition" && (!operationName || definition.name?.value === operationName),
  );
  if (operation?.kind !== "OperationDefinition" || operation.operation !== "subscription") return false;
  return operation.selectionSet.selections.every((selection) => selection.kind === "Field" && fields.has(selection.name.value));
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === "object" && value !== null && Symbol.asyncIterator in value;

/**
 * `source` with `map` applied to each value; returning or throwing ends the source too. Written
 * with `then` rather than `await`: this runs once per subscriber per update, and each await
 * costs the fan-out microtask hops.
 */
function mapStream<T, R>(source: AsyncIterable<T>, map: (value: T) => R | Promise<R>): AsyncIterableIterator<R> {
  const iterator = source[Symbol.asyncIterator]();
  const mapStep = (step: IteratorResult<T>): IteratorResult<R> | Promise<IteratorResult<R>> => {
    if (step.done) return { value: undefined, done: true };
    const value = map(step.value);
    return value instanceof Promise ? value.then((mapped) => ({ value: mapped, done: false })) : { value, done: false };
  };
  return {
    next: () => iterator.next().then(mapStep),
    async return() {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
    async throw(error) {
      await iterator.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
