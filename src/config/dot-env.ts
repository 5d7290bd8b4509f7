import { readFileSync } from 'node:fs';
import { config as loadDotEnv, parse } from 'dotenv';

/** A `.env` line dotenv reads: a name, `=` (or `: `), a value (optionally after `export`). */
const ASSIGNMENT = /^\s*(export\s+)?[\w.-]+(\s*=|:\s)/;
/** Its value opens a quote it does not close on the line (perhaps on a later one). */
const OPENS_QUOTE = /^\s*(export\s+)?[\w.-]+(?:\s*=|:\s)\s*(["'`])(?!.*\2\s*(#.*)?$)/;

/**
 * The lines of a `.env` text that dotenv would skip without a word (no `NAME=`, as in
 * `MODULES auth,users`), and values that open a quote dotenv does not close, as "line N: …":
 * blank lines, comments and the lines of a quoted value that runs over several lines are fine.
 *
 * dotenv runs a quoted value over several lines up to the first unescaped closing quote, when
 * only white space or a comment follows it on its line; otherwise the value is the rest of the
 * first line, quote and all, and the lines after are read as lines of their own. So does this.
 */
export function dotEnvProblems(text: string): string[] {
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const trimmed = lines[index].replace(/^\uFEFF/, '').trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (!ASSIGNMENT.test(trimmed)) {
      problems.push(
        `line ${index + 1}: ${JSON.stringify(trimmed.slice(0, 60))} is not NAME=value; write it as NAME=value, or start it with # to keep it as a comment.`,
      );
      continue;
    }
    const opening = OPENS_QUOTE.exec(trimmed);
    if (!opening) continue;
    const quote = opening[2];
    // Closed later on its own line, with more after it: dotenv keeps the line as it is.
    if (unescapedIndexOf(trimmed, quote, opening[0].length) >= 0) continue;
    const end = closingLine(lines, index + 1, quote);
    if (end === undefined) {
      problems.push(
        `line ${index + 1}: the value opens a ${quote} that no later line closes (dotenv would keep the ${quote} in the value); close it at the end of the value, or leave it out.`,
      );
      continue;
    }
    index = end;
  }
  return problems;
}

/** The line that ends a value opened with `quote` before line `from`, as dotenv reads it; undefined when none does. */
function closingLine(lines: string[], from: number, quote: string): number | undefined {
  for (let index = from; index < lines.length; index++) {
    const at = unescapedIndexOf(lines[index], quote);
    if (at < 0) continue;
    return /^\s*(#.*)?$/.test(lines[index].slice(at + 1)) ? index : undefined;
  }
  return undefined;
}

function unescapedIndexOf(line: string, quote: string, from = 0): number {
  for (let at = line.indexOf(quote, from); at >= 0; at = line.indexOf(quote, at + 1)) if (line[at - 1] !== '\\') return at;
  return -1;
}

/** What readDotEnv found. */
export interface DotEnv {
  /** Lines dotenv would misread, each with its fix; when there are any, nothing was loaded. */
  problems: string[];
  /** The names the file sets (empty when there is none, or it has problems). */
  names: string[];
}

/**
 * Reads `.env` into the environment (what is set already wins), first refusing one with lines
 * dotenv would drop or misread without a word: a setting that silently does not apply is worse
 * than a start that says so.
 */
export function readDotEnv(path = '.env'): DotEnv {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { problems: [], names: [] }; // no .env (or not a readable file): the environment alone
  }
  const problems = dotEnvProblems(text);
  if (problems.length > 0) return { problems: problems.map((p) => `.env ${p}`), names: [] };
  loadDotEnv({ path, quiet: true });
  return { problems: [], names: Object.keys(parse(text)) };
}

/** Names a `.env` may set for others than Parley: docker compose's services, Node, the PostgreSQL client. */
const OTHERS_NAMES = /^(POSTGRES_|MINIO_|PG|NODE_|NPM_|COMPOSE_|DOCKER_)/;

/**
 * The names a `.env` sets that nothing reads (those of `others` aside): a misspelt name
 * (`LOG_LEVLE`, `DATABSE_URL`) is a setting that silently does not apply.
 */
export function unreadDotEnvNames(names: string[], read: ReadonlySet<string>): string[] {
  return names.filter((name) => !read.has(name) && !OTHERS_NAMES.test(name));
}
