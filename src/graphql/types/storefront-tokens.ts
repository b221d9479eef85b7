import { createStorefrontToken, listStorefrontTokens, revokeStorefrontToken } from "../../stores/storefront-tokens.ts";
import { builder } from "../builder.ts";
import { FLAT_LIST } from "../cost.ts";
import { resultUnion } from "./errors.ts";

const StorefrontTokenObject = builder.prismaObject("StorefrontToken", {
  description: "A storefront access token (its secret is shown once, when created, and never stored).",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    lastFour: t.exposeString("lastFour", { description: "the token's last four characters" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
  }),
});

const CreatedStorefrontToken = builder
  .objectRef<Exclude<Awaited<ReturnType<typeof createStorefrontToken>>, Error>>("CreatedStorefrontToken")
  .implement({
    fields: (t) => ({
      token: t.exposeString("token", {
        description: "the token, for `Authorization: Bearer <token>`: shown this once, only a hash is kept",
      }),
      storefrontToken: t.field({ type: StorefrontTokenObject, resolve: (created) => created.storefrontToken }),
    }),
  });

const CreateStorefrontTokenResult = resultUnion("CreateStorefrontTokenResult", CreatedStorefrontToken);
const StorefrontTokenResult = resultUnion("StorefrontTokenResult", StorefrontTokenObject);

builder.queryField("storefrontTokens", (t) =>
  t.withAuth({ admin: true }).field({
    type: [StorefrontTokenObject],
    description: "(admin) the store's storefront access tokens, newest first, revoked ones too",
    complexity: FLAT_LIST,
    resolve: (_root, _args, { deps, adminStoreId }) => listStorefrontTokens(deps.db.prisma, adminStoreId),
  }),
);

builder.mutationFields((t) => {
  const admin = t.withAuth({ admin: true });
  return {
    createStorefrontToken: admin.field({
      type: CreateStorefrontTokenResult,
      description: "(admin) a token for the store's own server to place orders for its shoppers (X-Buyer-IP)",
      args: { name: t.arg.string({ required: true }) },
      resolve: (_root, { name }, { deps, adminStoreId }) => createStorefrontToken(deps.db.prisma, adminStoreId, name),
    }),
    revokeStorefrontToken: admin.field({
      type: StorefrontTokenResult,
      description: "(admin) the token is refused from the next request on",
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, { id }, { deps, adminStoreId }) => revokeStorefrontToken(deps.db.prisma, adminStoreId, String(id)),
    }),
  };
});
