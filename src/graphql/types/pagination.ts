import { builder } from "../builder.ts";
import { badUserInput } from "../context.ts";

export type Page<T> = {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
};

export const PageInfoType = builder.objectRef<Page<unknown>["pageInfo"]>("PageInfo").implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean("hasNextPage"),
    endCursor: t.exposeString("endCursor", { nullable: true }),
  }),
});

/** `<Name>Connection` and `<Name>Edge` for a node type, in the relay shape of the contract. */
export function connectionOf<T>(name: string, node: any) {
  const edge = builder.objectRef<Page<T>["edges"][number]>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString("cursor"),
      node: t.field({ type: node, resolve: (e) => e.node as never }),
    }),
  });
  return builder.objectRef<Page<T>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({ type: [edge], resolve: (page) => page.edges }),
      pageInfo: t.field({ type: PageInfoType, resolve: (page) => page.pageInfo }),
    }),
  });
}

export const MAX_PAGE_SIZE = 100;

/**
 * Reads one page: `fetch` gets how many rows to take (one more than asked, to know whether a
 * next page exists) and the decoded cursor to start after.
 */
export async function paginate<T, K extends string | number>(
  args: { first?: number | null; after?: string | null },
  decodeKey: (raw: string) => K | null,
  fetch: (take: number, after: K | null) => Promise<T[]>,
  keyOf: (node: T) => K,
): Promise<Page<T>> {
  const first = args.first ?? 50;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badUserInput(`first must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  let after: K | null = null;
  if (args.after) {
    after = decodeKey(Buffer.from(args.after, "base64url").toString("utf8"));
    if (after === null) throw badUserInput("after is not a cursor of this list");
  }
  const rows = await fetch(first + 1, after);
  const nodes = rows.slice(0, first);
  const edges = nodes.map((node) => ({ cursor: Buffer.from(String(keyOf(node))).toString("base64url"), node }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
}
