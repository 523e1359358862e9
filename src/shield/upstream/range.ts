/**
 * Byte-range requests a proxy should not pass on (RFC 9110 §14.2): "a server that supports range
 * requests MAY ignore or reject a Range header field that contains ... more than two overlapping
 * ranges, or a set of many small ranges that are not listed in ascending order, since both are
 * indications of either a broken client or a deliberate denial-of-service attack". One request
 * asking `bytes=0-,0-,0-,...` made Apache build a multipart answer the size of the file times the
 * number of ranges (CVE-2011-3192, "Apache Killer"); nginx caps them with `max_ranges`.
 *
 * What the shield does with one (filters/upstream-request/forwarding-headers.ts): the Range and
 * If-Range fields are not forwarded, so the origin sends the whole representation once (200), as
 * RFC 9110 lets a server ignore Range. Nothing else in the request changes.
 *
 * Pure.
 */

/** One byte range as written: `first-last`, `first-` (to the end) or `-suffix` (the last bytes). */
export interface ByteRange {
  readonly first: number | undefined;
  readonly last: number | undefined;
  readonly suffix: number | undefined;
}

/** The unit of a Range value, lower-cased (`bytes`), or undefined when it has none. */
function rangeUnit(value: string): string | undefined {
  const eq = value.indexOf('=');
  return eq < 0 ? undefined : value.slice(0, eq).trim().toLowerCase();
}

/**
 * The ranges of a `bytes=` Range value, or undefined when it is not one: another unit, or a
 * ranges-specifier that does not parse — which is also what several Range field lines look like
 * once joined (`bytes=0-, bytes=0-`).
 */
export function parseByteRanges(value: string): ByteRange[] | undefined {
  if (rangeUnit(value) !== 'bytes') return undefined;
  // RFC 9110 §5.6.1: empty list elements are ignored.
  const parts = value.slice(value.indexOf('=') + 1).split(',').map((p) => p.trim()).filter((p) => p !== '');
  const out: ByteRange[] = [];
  for (const p of parts) {
    const m = /^(\d*)-(\d*)$/.exec(p);
    if (!m || (m[1] === '' && m[2] === '')) return undefined;
    if (m[1] === '') out.push({ first: undefined, last: undefined, suffix: Number(m[2]) });
    else out.push({ first: Number(m[1]), last: m[2] === '' ? undefined : Number(m[2]), suffix: undefined });
  }
  return out.length > 0 ? out : undefined;
}

/** Why a Range must not reach the origin. */
export type RangeRefusal = 'too-many-ranges' | 'overlapping-ranges' | 'invalid-ranges';

/**
 * Why a Range value must not reach the origin, or undefined when it may: a bytes range that does
 * not parse (RFC 9110 §14.2: a server ignores an invalid ranges-specifier; several Range lines,
 * joined, land here: an origin that read them as one list would build the Apache Killer's answer),
 * more than `maxRanges` ranges (0: none at all), or more than two ranges overlapping one another.
 * Suffix ranges are compared as ranges from the end: two of them always overlap. Another unit
 * than bytes is the origin's business.
 */
export function rangeRefusal(value: string, maxRanges: number): RangeRefusal | undefined {
  if (rangeUnit(value) !== 'bytes') return undefined;
  const ranges = parseByteRanges(value);
  if (ranges === undefined) return 'invalid-ranges';
  if (ranges.length > maxRanges) return 'too-many-ranges';
  if (ranges.length < 3) return undefined;
  // Ranges from the start and suffix ranges cannot be compared without the length: each family alone.
  const fromStart = ranges.filter((r) => r.first !== undefined).map((r) => [r.first as number, r.last ?? Infinity] as const).sort((a, b) => a[0] - b[0]);
  const suffixes = ranges.filter((r) => r.suffix !== undefined).length;
  let overlapping = suffixes > 1 ? suffixes : 0;
  let end = -1;
  let run = 0;
  for (const [a, b] of fromStart) {
    run = a <= end ? run + 1 : 1;
    end = Math.max(end, b);
    if (run >= 2) overlapping = Math.max(overlapping, run);
  }
  return overlapping > 2 ? 'overlapping-ranges' : undefined;
}
