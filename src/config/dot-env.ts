import { readFileSync } from 'node:fs';
import { config as loadDotEnv, parse } from 'dotenv';

/** A `.env` line that sets something: a name, `=` (or `: `), a value (optionally after `export`). */
const ASSIGNMENT = /^\s*(export\s+)?[\w.-]+(\s*=|:\s)/;

/**
 * dotenv's own pattern for one setting (dotenv 18, its default parser), quoted values over several
 * lines included: what it reads is what this checks, rather than a second reading of the rules.
 */
const DOTENV_LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;

/**
 * What dotenv would misread in a `.env` text without a word, as "line N: …" with the fix:
 * - a line it skips (no `NAME=`, as in `MODULES auth,users`); blank lines and comments are fine;
 * - a value that starts with a quote but does not end with one, which dotenv keeps in the value;
 * - a quoted value that runs on over lines that look like settings of their own (a quote closed
 *   too late, or escaped at the end of a line: `"C:\\data\\"`), which dotenv takes into the value.
 */
export function dotEnvProblems(text: string): string[] {
  const normal = text.replace(/\r\n?/g, '\n');
  const lines = normal.split('\n');
  const starts: number[] = [];
  for (let at = 0, i = 0; i < lines.length; at += lines[i].length + 1, i++) starts.push(at);
  const lineOf = (offset: number) => {
    let i = 0;
    while (i + 1 < starts.length && starts[i + 1] <= offset) i++;
    return i;
  };
  const covered = new Set<number>();
  const problems: Array<{ line: number; text: string }> = [];
  for (const match of normal.matchAll(DOTENV_LINE)) {
    const [whole, name, raw = ''] = match;
    // The match may begin with blank lines before the name: the setting starts at its name.
    const first = lineOf(match.index + whole.search(/\S/));
    const last = lineOf(match.index + whole.length - 1);
    for (let i = first; i <= last; i++) covered.add(i);
    const value = raw.trim();
    const quote = value[0];
    if (quote === '"' || quote === "'" || quote === '`') {
      if (value.replace(/^(['"`])([\s\S]*)\1$/gm, '$2') === value) {
        problems.push({
          line: first,
          text: `the value of ${name} starts with ${quote} but does not end with one, so dotenv keeps the ${quote} in the value; close it at the end of the value, or leave it out.`,
        });
        continue;
      }
      const swallowed = lines.slice(first + 1, last + 1).findIndex((line) => ASSIGNMENT.test(line));
      if (swallowed >= 0)
        problems.push({
          line: first,
          text: `the quoted value of ${name} runs on to line ${last + 1}, taking in line ${first + swallowed + 2}, which looks like a setting of its own; close the quote where the value ends (a \\${quote} does not close it).`,
        });
    }
  }
  lines.forEach((line, i) => {
    const trimmed = line.replace(/^\uFEFF/, '').trim();
    if (covered.has(i) || trimmed === '' || trimmed.startsWith('#')) return;
    problems.push({
      line: i,
      text: `${JSON.stringify(trimmed.slice(0, 60))} is not NAME=value; write it as NAME=value, or start it with # to keep it as a comment.`,
    });
  });
  return problems.sort((a, b) => a.line - b.line).map((p) => `line ${p.line + 1}: ${p.text}`);
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

/**
 * Names a `.env` may set for others than Parley: docker compose's services, Node and libuv, the
 * PostgreSQL client, proxies, the locale and time zone, debug switches.
 */
const OTHERS_NAMES =
  /^(POSTGRES_|MINIO_|PG|NODE_|NPM_|COMPOSE_|DOCKER_|UV_|LC_|DOTENV_)|^(TZ|LANG|LANGUAGE|DEBUG|HOME|PATH|HOSTNAME|HTTPS?_PROXY|NO_PROXY|ALL_PROXY)$/i;

/**
 * The names a `.env` sets that nothing reads (those of `others` aside): a misspelt name
 * (`LOG_LEVLE`, `DATABSE_URL`) is a setting that silently does not apply.
 */
export function unreadDotEnvNames(names: string[], read: ReadonlySet<string>): string[] {
  return names.filter((name) => !read.has(name) && !OTHERS_NAMES.test(name));
}
