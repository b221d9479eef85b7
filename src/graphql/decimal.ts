import { GraphQLError, GraphQLScalarType, Kind } from "graphql";

const DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * Money as a decimal string ("19.90"), never a float. Parsing only checks that the value is a
 * decimal number; the domain's rules (not negative, at most 2 places) answer INVALID_INPUT.
 */
export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: "Decimal",
  description: 'Money as a decimal string, e.g. "19.90"',
  serialize(value) {
    if (typeof value === "string") return Number.isNaN(Number(value)) ? fail(value) : Number(value).toFixed(2);
    if (value && typeof (value as { toFixed?: unknown }).toFixed === "function") return (value as { toFixed(n: number): string }).toFixed(2);
    return fail(value);
  },
  parseValue(value) {
    if (typeof value === "string" && DECIMAL.test(value.trim())) return value.trim();
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
    throw new GraphQLError(`Decimal must be a decimal string such as "19.90"`);
  },
  parseLiteral(ast) {
    if ((ast.kind === Kind.STRING || ast.kind === Kind.FLOAT || ast.kind === Kind.INT) && DECIMAL.test(ast.value)) {
      return ast.value;
    }
    throw new GraphQLError(`Decimal must be a decimal string such as "19.90"`, { nodes: ast });
  },
});

function fail(value: unknown): never {
  throw new GraphQLError(`cannot serialize ${String(value)} as Decimal`);
}
