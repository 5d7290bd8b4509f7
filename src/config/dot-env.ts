import { readFileSync } from 'node:fs';
import { config as loadDotEnv } from 'dotenv';

/** A `.env` line dotenv reads: a name, `=` (or `: `), a value (optionally after `export`). */
const ASSIGNMENT = /^\s*(export\s+)?[\w.-]+(\s*=|:\s)/;
/** Its value opens a quote it does not close on the line: the value goes on over the next lines. */
const OPENS_QUOTE = /^\s*(export\s+)?[\w.-]+(?:\s*=|:\s)\s*(["'`])(?!.*\2\s*(#.*)?$)/;

/**
 * The lines of a `.env` text that dotenv would skip without a word (no `NAME=`, as in
 * `MODULES auth,users`), as "line N: …": blank lines, comments and the lines of a quoted value
 * that runs over several lines are fine.
 */
export function dotEnvProblems(text: string): string[] {
  const problems: string[] = [];
  let closing: string | undefined;
  text.split(/\r?\n/).forEach((line, index) => {
    if (closing !== undefined) {
      if (line.includes(closing)) closing = undefined;
      return;
    }
    const trimmed = line.replace(/^\uFEFF/, '').trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (!ASSIGNMENT.test(trimmed)) {
      problems.push(`line ${index + 1}: ${JSON.stringify(trimmed.slice(0, 60))} is not NAME=value`);
      return;
    }
    closing = OPENS_QUOTE.exec(trimmed)?.[2];
  });
  return problems;
}

/**
 * Reads `.env` into the environment (what is set already wins), first refusing one with lines
 * dotenv would drop without a word: a setting that silently does not apply is worse than a start
 * that says so. Returns those lines' problems (empty when there is no `.env`, or it is fine).
 */
export function readDotEnv(path = '.env'): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return []; // no .env (or not a readable file): the environment alone
  }
  const problems = dotEnvProblems(text);
  if (problems.length === 0) loadDotEnv({ path, quiet: true });
  return problems.map((p) => `.env ${p}; write it as NAME=value, or start it with # to keep it as a comment.`);
}
