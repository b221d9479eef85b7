import { RequestCache } from "@pothos/plugin-scope-auth";
import {
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isObjectType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type ASTNode,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { builder } from "./builder.ts";
import { unauthorized, type GraphQLContext } from "./context.ts";

/**
 * What a mutation field may declare in its `extensions`: the store whose records its answer
 * holds, when that is not the admin token's (placeOrder answers an order of the store it names).
 */
export type MutationStore = { answerStoreOf?: (args: Record<string, unknown>, context: GraphQLContext) => Promise<string | null> };

type FieldOptions = {
  authScopes?: object | boolean | ((parent: unknown, args: object, context: GraphQLContext, info: unknown) => unknown);
  unauthorizedError?: (parent: unknown, args: object, context: GraphQLContext, info: unknown, result: unknown) => GraphQLError;
};

/**
 * A mutation is authorized whole before anything runs: every field its selection asks, the
 * admin-only ones inside its answer too (an order's `lines { allocations }`), is checked
 * against its auth scopes first, and one that would be refused refuses the whole operation
 * (UNAUTHENTICATED or FORBIDDEN, as that field would answer), so a checkout never commits an
 * order whose answer is then withheld. Scopes that depend on a record (`adminOf` its store) are
 * decided for the store the mutation acts on (every record of its answer is that store's): the
 * admin token's, or the one the field declares (`answerStoreOf`). Queries change nothing and keep
 * to the fields' own checks, refusing only what they withhold. The scopes are scope-auth's own,
 * evaluated through its request cache, so a scope is loaded once per request.
 */
export function authorizeMutationSelections(): Plugin {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== "mutation") return;
      // only the variables the check reads are coerced (a checkout's `$store`, not its lines): execution coerces them all
      const read = variablesRead(args.schema, args.document);
      const definitions = (operation.variableDefinitions ?? []).filter((definition) => read.has(definition.variable.name.value));
      const variables = getVariableValues(args.schema, definitions, (args.variableValues ?? {}) as Record<string, unknown>);
      // variables that do not fit are execution's to report
      if (variables.errors) return;
      const refused = await firstRefusal(args.schema, args.document, operation, variables.coerced, args.contextValue as unknown as GraphQLContext);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
  };
}

const variablesReadBy = new WeakMap<DocumentNode, Set<string>>();

/** The variables a document gives to @skip/@include and to the arguments the check reads: of fields with auth scopes or an answer store (once per document). */
function variablesRead(schema: GraphQLSchema, document: DocumentNode): Set<string> {
  let read = variablesReadBy.get(document);
  if (read) return read;
  const names = new Set<string>();
  const typeInfo = new TypeInfo(schema);
  const collect = (node: ASTNode) =>
    visit(node, {
      Variable(variable) {
        names.add(variable.name.value);
      },
    });
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Directive(directive) {
        collect(directive);
      },
      Field(field) {
        const extensions = typeInfo.getFieldDef()?.extensions as (MutationStore & { pothosOptions?: FieldOptions }) | undefined;
        if (extensions?.pothosOptions?.authScopes !== undefined || extensions?.answerStoreOf) field.arguments?.forEach(collect);
      },
    }),
  );
  variablesReadBy.set(document, (read = names));
  return read;
}

type Asked = { field: GraphQLField<unknown, unknown>; node: FieldNode; root: FieldNode };

/** The fields with auth scopes that operations ask, by document and operation name, for documents without @skip/@include. */
const scopedFieldsBy = new WeakMap<DocumentNode, Map<string, Asked[]>>();
const conditionalDocuments = new WeakMap<DocumentNode, boolean>();

/**
 * Every field with auth scopes the operation asks (in any fragment it spreads), with the mutation
 * field whose answer holds it. Which fields a request asks depends on its variables only through
 * @skip/@include: a document without them is walked once (a checkout's, sent over and over).
 */
function scopedFields(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): Asked[] {
  let conditional = conditionalDocuments.get(document);
  if (conditional === undefined) {
    conditional = false;
    visit(document, {
      Directive(directive) {
        if (directive.name.value === GraphQLSkipDirective.name || directive.name.value === GraphQLIncludeDirective.name) conditional = true;
      },
    });
    conditionalDocuments.set(document, conditional);
  }
  if (conditional) return walkScopedFields(schema, document, operation, variables);
  const name = operation.name?.value ?? "";
  let byName = scopedFieldsBy.get(document);
  if (!byName) scopedFieldsBy.set(document, (byName = new Map()));
  let asked = byName.get(name);
  if (!asked) byName.set(name, (asked = walkScopedFields(schema, document, operation, variables)));
  return asked;
}

function walkScopedFields(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): Asked[] {
  const fragments = new Map(document.definitions.flatMap((definition) => (definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition]] : [])));
  const asked: Asked[] = [];
  const walk = (selections: SelectionSetNode, type: GraphQLNamedType | null | undefined, root: FieldNode | null) => {
    for (const selection of selections.selections) {
      // @skip/@include as execution will take them: a field left out is not asked
      if (!included(selection, variables)) continue;
      if (selection.kind === Kind.FIELD) {
        const field = isObjectType(type) ? type.getFields()[selection.name.value] : undefined;
        if (!field) continue; // __typename
        if ((field.extensions.pothosOptions as FieldOptions | undefined)?.authScopes !== undefined) asked.push({ field, node: selection, root: root ?? selection });
        if (selection.selectionSet) walk(selection.selectionSet, getNamedType(field.type), root ?? selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type, root);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), root);
      }
    }
  };
  walk(operation.selectionSet, schema.getMutationType(), null);
  return asked;
}

/** The error of the first field the operation asks (in any fragment it spreads) whose scopes refuse it, if any. */
async function firstRefusal(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  context: GraphQLContext,
): Promise<GraphQLError | null> {
  const scopes = RequestCache.fromContext(context, builder);
  const storeOfRoot = new Map<FieldNode, Promise<string | null>>();
  for (const { field, node, root } of scopedFields(schema, document, operation, variables)) {
    const options = field.extensions.pothosOptions as FieldOptions;
    const args = getArgumentValues(field, node, variables);
    let map = options.authScopes;
    if (typeof map === "function" && node === root) {
      map = (await map(undefined, args, context, undefined)) as object | boolean;
    } else if (typeof map === "function") {
      if (!storeOfRoot.has(root)) storeOfRoot.set(root, answerStore(schema.getMutationType()?.getFields()[root.name.value], root, variables, context));
      map = (await map({ storeId: await storeOfRoot.get(root) }, args, context, undefined)) as object | boolean;
    }
    const failure = await scopes.evaluateScopeMap(map as Parameters<typeof scopes.evaluateScopeMap>[0]);
    if (failure) return options.unauthorizedError?.(null, args, context, undefined, failure) ?? unauthorized(null, context);
  }
  return null;
}

/** The store a mutation field's answer belongs to: the one it declares, else the admin token's. */
function answerStore(field: GraphQLField<unknown, unknown> | undefined, node: FieldNode, variables: Record<string, unknown>, context: GraphQLContext) {
  const declared = (field?.extensions as MutationStore | undefined)?.answerStoreOf;
  return declared && field ? declared(getArgumentValues(field, node, variables), context) : Promise.resolve(context.adminStoreId);
}

function included(node: SelectionNode, variables: Record<string, unknown>): boolean {
  return getDirectiveValues(GraphQLSkipDirective, node, variables)?.if !== true && getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;
}
