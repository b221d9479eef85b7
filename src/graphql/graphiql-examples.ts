import type { GraphiQLOptions } from "graphql-yoga";

/**
 * GraphiQL's first visit (development only): one tab per thing a newcomer wants to try, with the
 * variables filled in for the demo store of `npm run seed:demo`. Tabs saved in the browser win
 * over these on later visits.
 */
// $store has a default: on a first visit GraphiQL (5.x) leaves the first tab's variables pane empty.
const STOREFRONT = `# The public storefront: what shoppers see (never HIDDEN items).
# "Agotado" = SOLD_OUT, "Bajo pedido" = BACKORDER ("Vender sin Stock").
# An item with options (a T-shirt in sizes) lists its variants, each with its own stock.
query Storefront($store: String! = "ejemplar") {
  store(slug: $store) {
    name
    items(first: 20) {
      edges {
        node {
          id name type price availability availableQuantity version
          options { name values }
          variants { id options { name value } price availability availableQuantity }
        }
      }
    }
  }
}`;

const PLACE_ORDER = `# The public checkout. Take an item id from the Storefront tab (and, for an item with
# options, the id of the variant: a size). Asking more than availableQuantity answers
# InsufficientStockError and changes nothing.
mutation PlaceOrder($store: String!, $itemId: ID!, $variantId: ID, $quantity: Int!) {
  placeOrder(store: $store, input: { lines: [{ itemId: $itemId, variantId: $variantId, quantity: $quantity }] }) {
    __typename
    ... on Order { id number status total lines { quantity unitPrice item { name } variant { options { name value } } } }
    ... on InsufficientStockError { code message shortages { itemId variantId requested available } }
    ... on OperationError { code message field }
  }
}`;

const SET_QUANTITY = `# Admin: "Registrar cantidad disponible". Needs the store's admin token in the
# Headers pane below (npm run seed:demo prints it). Set 0 to see "Agotado" on the storefront.
mutation SetQuantity($itemId: ID!, $quantity: Int!) {
  setItemQuantity(input: { itemId: $itemId, quantity: $quantity, note: "recount" }) {
    __typename
    ... on Item { id name quantity availableQuantity availability version }
    ... on OperationError { code message field }
  }
}

# Admin: "Ocultar producto" / "Marcar como agotado" for items that run out.
mutation OutOfStockBehavior($behavior: OutOfStockBehavior!) {
  updateInventorySettings(input: { outOfStockBehavior: $behavior }) {
    __typename
    ... on InventorySettings { outOfStockBehavior }
    ... on OperationError { code message }
  }
}`;

const STOCK_UPDATES = `# Live stock of the store over WebSocket (graphql-ws). Run it, then change a quantity
# or place an order in another tab: a StockUpdate arrives for every committed change.
subscription StockUpdates($store: String!) {
  stockUpdates(store: $store) { itemId variantId availability availableQuantity variantAvailability variantAvailableQuantity version at }
}`;

const DEMO_VARIABLES = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ store: "ejemplar", ...extra }, null, 2);

export const graphiqlExamples: Pick<GraphiQLOptions, "defaultQuery" | "defaultTabs"> = {
  defaultQuery: STOREFRONT,
  defaultTabs: [
    { query: STOREFRONT, variables: DEMO_VARIABLES() },
    { query: PLACE_ORDER, variables: DEMO_VARIABLES({ itemId: "<item id>", variantId: null, quantity: 1 }) },
    {
      query: SET_QUANTITY,
      variables: JSON.stringify({ itemId: "<item id>", quantity: 0, behavior: "HIDE" }, null, 2),
      headers: JSON.stringify({ Authorization: "Bearer <adminToken printed by npm run seed:demo>" }, null, 2),
    },
    { query: STOCK_UPDATES, variables: DEMO_VARIABLES() },
  ],
};
