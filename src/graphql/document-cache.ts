import type { DocumentNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import { LRUCache } from "lru-cache";

/**
 * Parses and validates each distinct document once: clients send the same few documents over and
 * over (a checkout, a catalog page), so the request text is looked up and its parsed document, or
 * its syntax error, reused; the validation errors are kept by document. It replaces yoga's own
 * cache (`parserAndValidationCache: false` in src/server.ts), which does the same at a cost per
 * request that showed in the checkout's profile: a TTL that reads the clock (and sets a timer) on
 * every lookup, and a key of the validation rules' names joined anew each time. The rules are the
 * same for every request of a server (./limits.ts adds them unconditionally), so a document's
 * errors are the same too. It goes after the other plugins, where yoga puts its own: their hooks
 * still run (graphql-armor's token limit and rules are set, then left unused on a hit).
 */
export function useDocumentCache(max = 1_024): Plugin {
  const documents = new LRUCache<string, DocumentNode>({ max });
  const syntaxErrors = new LRUCache<string, Error>({ max });
  const validations = new WeakMap<DocumentNode, readonly Error[]>();
  return {
    onParse({ params, setParsedDocument }) {
      const text = typeof params.source === "string" ? params.source : params.source.body;
      const document = documents.get(text);
      if (document) return void setParsedDocument(document);
      const error = syntaxErrors.get(text);
      if (error) throw error;
      return ({ result }) => {
        if (result instanceof Error) syntaxErrors.set(text, result);
        else if (result) documents.set(text, result);
      };
    },
    onValidate({ params, setResult }) {
      const errors = validations.get(params.documentAST);
      if (errors) return void setResult(errors);
      return ({ result }) => void validations.set(params.documentAST, result);
    },
  };
}
