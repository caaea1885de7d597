// Bearer tokens: checked on every route but the open ones, compared in constant time. The tokens
// themselves come from config (loadConfig generates and saves one when none is configured).
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function tokenMatches(tokens: readonly string[], presented: string | undefined): boolean {
  if (!presented) return false;
  const p = digest(presented);
  let ok = false;
  for (const t of tokens) if (t && timingSafeEqual(digest(t), p)) ok = true;
  return ok;
}

/** `Authorization: Bearer <token>`; undefined when absent or another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m?.[1];
}
