/**
 * Reading a spreadsheet saved as CSV (RFC 4180) the ways spreadsheets save it: comma separated,
 * or semicolon separated as Excel writes in Spanish locales (or a `sep=;` first line), UTF-8
 * with or without a byte order mark, CRLF or LF, fields in quotes with their quotes doubled and
 * line breaks inside. Small on purpose: a CSV library would add more to the console's bundle
 * than the rest of the import screen.
 */

export type Delimiter = "," | ";" | "\t";

/** The rows of `text`, each a list of fields, blank lines left out; and the delimiter it used. */
export function parseCsv(input: string): { delimiter: Delimiter; rows: string[][] } {
  let text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  let delimiter: Delimiter;
  const directive = /^sep=([,;\t])\r?\n/i.exec(text);
  if (directive) {
    delimiter = directive[1] as Delimiter;
    text = text.slice(directive[0].length);
  } else {
    delimiter = guessDelimiter(text);
  }
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const endRow = () => {
    row.push(field);
    if (row.length > 1 || row[0]!.trim() !== "") rows.push(row);
    row = [];
    field = "";
  };
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') (field += '"'), i++;
      else quoted = false;
    } else if (c === '"' && field === "") {
      quoted = true;
    } else if (c === delimiter) {
      row.push(field);
      field = "";
    } else if (c === "\r" || c === "\n") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRow();
    } else {
      field += c;
    }
    i++;
  }
  if (field !== "" || row.length > 0) endRow();
  return { delimiter, rows };
}

/** The delimiter the first line uses most, outside quotes; a comma when it uses none. */
function guessDelimiter(text: string): Delimiter {
  const counts: Record<Delimiter, number> = { ",": 0, ";": 0, "\t": 0 };
  let quoted = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === "\n" || c === "\r")) break;
    else if (!quoted && c in counts) counts[c as Delimiter]++;
  }
  return (Object.keys(counts) as Delimiter[]).reduce((best, candidate) => (counts[candidate] > counts[best] ? candidate : best), ",");
}
