import { parse, validate } from "graphql";
import { createYoga, type Plugin } from "graphql-yoga";
import { describe, expect, it } from "vitest";
import { useDocumentCache } from "../src/graphql/document-cache.ts";
import { schema } from "../src/graphql/schema.ts";

/** A yoga server as src/server.ts sets its cache up, counting the parses and validations that really run. */
function countingYoga() {
  const runs = { parse: 0, validate: 0 };
  const counting: Plugin = {
    onParse({ setParseFn }) {
      setParseFn((...args: Parameters<typeof parse>) => (runs.parse++, parse(...args)));
    },
    onValidate({ setValidationFn }) {
      setValidationFn((...args: Parameters<typeof validate>) => (runs.validate++, validate(...args)));
    },
  };
  const yoga = createYoga({ schema, parserAndValidationCache: false, plugins: [counting, useDocumentCache()], logging: false });
  const ask = async (query: string) => {
    const response = await yoga.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query }),
    });
    return response.json();
  };
  return { runs, ask };
}

describe("the document cache", () => {
  it("parses and validates a document sent again only once, and answers it the same", async () => {
    const { runs, ask } = countingYoga();
    const answers = [await ask("{ __typename }"), await ask("{ __typename }"), await ask("{ __typename }")];
    expect(answers).toEqual([{ data: { __typename: "Query" } }, { data: { __typename: "Query" } }, { data: { __typename: "Query" } }]);
    expect(runs).toEqual({ parse: 1, validate: 1 });
    await ask("query Other { __typename }");
    expect(runs).toEqual({ parse: 2, validate: 2 });
  });

  it("answers a syntax error or a validation error sent again with the same errors, found once", async () => {
    const { runs, ask } = countingYoga();
    const syntax = [await ask("{ __typename "), await ask("{ __typename ")];
    expect(syntax[0].errors[0].message).toMatch(/^Syntax Error/);
    expect(syntax[1]).toEqual(syntax[0]);
    const invalid = [await ask("{ noSuchField }"), await ask("{ noSuchField }")];
    expect(invalid[0].errors[0].message).toMatch(/noSuchField/);
    expect(invalid[1]).toEqual(invalid[0]);
    expect(runs).toEqual({ parse: 2, validate: 1 });
  });
});
