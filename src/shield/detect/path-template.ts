/**
 * Path templates: `/track/6A12345678901` → `/track/{id}`, so a flood spread over random ids or
 * search terms in the path counts as one route shape in the heavy hitters.
 */

const MAX_SEGMENTS = 8; // deeper paths fold into `/…`: a template is a bucket, not a URL
const MAX_SEGMENT_CHARS = 48;

/** True for a path segment that reads as an identifier rather than a fixed name. */
export function isIdSegment(segment: string): boolean {
  const n = segment.length;
  if (n === 0) return false;
  let digits = 0, hex = 0, letters = 0, other = 0;
  for (let i = 0; i < n; i++) {
    const c = segment.charCodeAt(i);
    if (c >= 48 && c <= 57) { digits++; hex++; }
    else {
      const l = c | 0x20;
      if (l >= 97 && l <= 122) { letters++; if (l <= 102) hex++; }
      else if (c !== 45 && c !== 95) other++; // `-` and `_` occur in slugs, uuids and base64url
    }
  }
  if (digits === n) return true; // /orders/42
  if (other > 0) return n >= 24; // percent-encoded or dotted tokens: only when long
  const dashes = n - digits - letters;
  if (digits > 0 && hex + dashes === n && n >= 8) return true; // hex ids, UUIDs (RFC 9562)
  if (digits >= 4 && n >= 6) return true; // 6A12345678901, INV-2024-0001
  if (n >= 20 && digits > 0) return true; // opaque tokens (base64url, ULIDs)
  return n >= 32; // very long words are not route names either
}

/** The template of a path (query string ignored): id-like segments become `{id}`, extensions kept. */
export function pathTemplate(path: string): string {
  let end = path.indexOf('?');
  if (end < 0) end = path.length;
  let out = '';
  let segments = 0;
  let start = path.charCodeAt(0) === 47 ? 1 : 0;
  while (start <= end) {
    let slash = path.indexOf('/', start);
    if (slash < 0 || slash > end) slash = end;
    const segment = path.slice(start, slash);
    if (++segments > MAX_SEGMENTS) { out += '/…'; break; }
    out += '/' + templateSegment(segment);
    start = slash + 1;
    if (slash === end) break;
  }
  return out.length > 0 ? out : '/';
}

function templateSegment(segment: string): string {
  const dot = segment.lastIndexOf('.');
  // Keep a short extension (`{id}.jpg`): the file type often tells routes apart.
  if (dot > 0 && segment.length - dot <= 6) {
    const base = segment.slice(0, dot);
    return (isIdSegment(base) ? '{id}' : cap(base)) + segment.slice(dot).toLowerCase();
  }
  return isIdSegment(segment) ? '{id}' : cap(segment);
}

function cap(segment: string): string {
  return segment.length > MAX_SEGMENT_CHARS ? segment.slice(0, MAX_SEGMENT_CHARS) + '…' : segment;
}
