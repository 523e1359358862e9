import { INTERSTITIAL_TEXTS, type PageLanguage } from './language.js';

/**
 * The browser interstitial: one small self-contained page (inline CSS and JavaScript, nothing
 * fetched) that solves the proof-of-work in Web Workers created from a Blob URL, hashing with Web
 * Crypto, then navigates to the verify path, which answers 303 to the original URL.
 */

/** What the page needs. */
export interface InterstitialOptions {
  readonly seed: string;
  readonly bits: number;
  /** The reserved verify path (the page adds ?seed=&counter=). */
  readonly verifyPath: string;
  /** CSP nonce of the inline script and style (the response sets a matching policy). */
  readonly nonce: string;
  /** Seconds suggested before coming back (shown to noscript visitors). */
  readonly retryAfterS: number;
  /** The page's language (challenge/language.ts); English when absent. */
  readonly language?: PageLanguage;
}

// SHA-256 in JavaScript (FIPS 180-4) for the workers, specialised for this work function: the
// state after the seed's full 64-byte blocks is computed once, so each counter costs only the
// last one or two blocks, written straight into reused word buffers (no allocation per hash).
// Used where Web Crypto is missing (plain http to a non-local host is not a secure context) or
// measured faster than it (Web Crypto pays an asynchronous call per digest).
/** Source of `prefixHasher(prefixBytes) → (counterDigits) → state words` and `stateBytes`, exported for its unit test. */
export const JS_SHA256_SOURCE = String.raw`const K = new Int32Array([0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2]);
const W = new Int32Array(64);
function compress(H, M, o) {
  for (let i = 0; i < 16; i++) W[i] = M[o + i];
  for (let i = 16; i < 64; i++) {
    const a = W[i-15], b = W[i-2];
    W[i] = (W[i-16] + ((a>>>7|a<<25)^(a>>>18|a<<14)^(a>>>3)) + W[i-7] + ((b>>>17|b<<15)^(b>>>19|b<<13)^(b>>>10))) | 0;
  }
  let a=H[0],b=H[1],c=H[2],d=H[3],e=H[4],f=H[5],g=H[6],h=H[7];
  for (let i = 0; i < 64; i++) {
    const t1 = (h + ((e>>>6|e<<26)^(e>>>11|e<<21)^(e>>>25|e<<7)) + ((e&f)^(~e&g)) + K[i] + W[i]) | 0;
    const t2 = (((a>>>2|a<<30)^(a>>>13|a<<19)^(a>>>22|a<<10)) + ((a&b)^(a&c)^(b&c))) | 0;
    h=g; g=f; f=e; e=(d+t1)|0; d=c; c=b; b=a; a=(t1+t2)|0;
  }
  H[0]=(H[0]+a)|0; H[1]=(H[1]+b)|0; H[2]=(H[2]+c)|0; H[3]=(H[3]+d)|0; H[4]=(H[4]+e)|0; H[5]=(H[5]+f)|0; H[6]=(H[6]+g)|0; H[7]=(H[7]+h)|0;
}
function toWords(bytes, words, n) {
  for (let i = 0, j = 0; i < n; i++, j += 4) words[i] = (bytes[j] << 24) | (bytes[j+1] << 16) | (bytes[j+2] << 8) | bytes[j+3];
}
function prefixHasher(prefix) {
  const mid = new Int32Array([0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19]);
  const words = new Int32Array(32), bytes = new Uint8Array(128), H = new Int32Array(8);
  const full = prefix.length - (prefix.length & 63);
  for (let o = 0; o < full; o += 64) { toWords(prefix.subarray(o, o + 64), words, 16); compress(mid, words, 0); }
  const rest = prefix.length - full;
  bytes.set(prefix.subarray(full));
  return (digits) => {
    let p = rest;
    for (let i = 0; i < digits.length; i++) bytes[p++] = digits.charCodeAt(i);
    bytes[p] = 0x80;
    const total = ((p + 9 + 63) >> 6) << 6, n = total >> 2;
    bytes.fill(0, p + 1, total);
    toWords(bytes, words, n);
    words[n - 1] = (prefix.length + digits.length) * 8;
    H.set(mid);
    for (let o = 0; o < n; o += 16) compress(H, words, o);
    return H;
  };
}
function stateBytes(H) {
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) { out[i*4] = H[i] >>> 24; out[i*4+1] = H[i] >>> 16; out[i*4+2] = H[i] >>> 8; out[i*4+3] = H[i]; }
  return out;
}`;

// Runs inside each worker. Counters are interleaved (worker i tries i, i+W, i+2W…). Web Crypto
// digests are requested in batches so its asynchronous calls overlap; a first round times both
// engines and keeps the faster.
const WORKER_SOURCE = `'use strict';
${JS_SHA256_SOURCE}
onmessage = async (e) => {
  const { seed, bits, start, step } = e.data;
  const subtle = self.crypto && self.crypto.subtle;
  const enc = new TextEncoder();
  const js = prefixHasher(enc.encode(seed + ':'));
  const full = bits >> 3, mask = (0xff00 >> (bits & 7)) & 0xff;
  const good = (h) => { for (let i = 0; i < full; i++) if (h[i] !== 0) return false; return (h[full] & mask) === 0; };
  const words = bits >> 5, spare = 32 - (bits & 31);
  const goodWords = (H) => { for (let i = 0; i < words; i++) if (H[i] !== 0) return false; return spare === 32 || (H[words] >>> spare) === 0; };
  let c = start, useSubtle = !!subtle, probe = subtle ? 3 : 0, subtleRate = 0;
  if (!subtle) postMessage({ engine: 'js' });
  for (;;) {
    const first = c, batch = useSubtle ? 256 : 2048, t0 = performance.now();
    let found = -1;
    if (useSubtle) {
      const inputs = [];
      for (let i = 0; i < batch; i++, c += step) inputs.push(enc.encode(seed + ':' + c));
      const digests = await Promise.all(inputs.map((x) => subtle.digest('SHA-256', x)));
      for (let i = 0; i < batch && found < 0; i++) if (good(new Uint8Array(digests[i]))) found = first + i * step;
    } else {
      for (let i = 0; i < batch && found < 0; i++, c += step) if (goodWords(js(String(c)))) found = c;
    }
    if (found >= 0) { postMessage({ found }); return; }
    postMessage({ tried: batch });
    // Calibration: Web Crypto, then JavaScript twice (the second run is compiled), then the faster.
    if (probe > 0) {
      const rate = batch / (performance.now() - t0 + 0.001);
      if (probe === 3) { subtleRate = rate; useSubtle = false; }
      else if (probe === 1) { useSubtle = subtleRate > rate; postMessage({ engine: useSubtle ? 'webcrypto' : 'js' }); }
      probe--;
    }
  }
};`;

// The page script: starts the workers, shows progress, navigates to the verify path.
const PAGE_SOURCE = String.raw`(function () {
  var cfg = JSON.parse(document.getElementById('rempart-challenge').textContent);
  var status = document.getElementById('status'), bar = document.getElementById('bar'), t = cfg.t;
  function say(text) { status.textContent = text; }
  if (!navigator.cookieEnabled) { say(t.noCookies); return; }
  if (!window.Worker || !window.Blob || !window.URL) { say(t.noWorkers); return; }
  var url = URL.createObjectURL(new Blob([document.getElementById('rempart-worker').textContent], { type: 'text/javascript' }));
  var n = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 2)), workers = [], tried = 0, expected = Math.pow(2, cfg.bits), t0 = Date.now();
  for (var i = 0; i < n; i++) {
    var w = new Worker(url);
    w.onmessage = function (e) {
      if (e.data.engine) { document.body.setAttribute('data-engine', e.data.engine); return; }
      if (e.data.found !== undefined) {
        workers.forEach(function (x) { x.terminate(); });
        say(t.done.replace('{t}', ((Date.now() - t0) / 1000).toFixed(1)));
        bar.value = 1;
        location.replace(cfg.verify + '?seed=' + encodeURIComponent(cfg.seed) + '&counter=' + e.data.found);
        return;
      }
      tried += e.data.tried;
      // Chance of having found an answer by now (geometric distribution), as honest progress.
      bar.value = 1 - Math.exp(-tried / expected);
    };
    w.onerror = function () { say(t.failed); };
    w.postMessage({ seed: cfg.seed, bits: cfg.bits, start: i, step: n });
    workers.push(w);
  }
})();`;

const STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:12vh auto;padding:0 1rem;color:#222}'
  + 'h1{font-size:1.3rem}progress{width:100%;height:.8rem}.small{color:#666;font-size:.85rem}';

/** Escapes text for an HTML text node or attribute. */
const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The interstitial HTML for one challenge. Serve it with status 503, `Cache-Control: no-store`,
 * Retry-After and `interstitialCsp(nonce)`.
 */
export function renderInterstitial(o: InterstitialOptions): string {
  const language = o.language ?? 'en';
  const t = INTERSTITIAL_TEXTS[language];
  // JSON inside a script element: '<' escaped so no value can close the element.
  const cfg = JSON.stringify({ seed: o.seed, bits: o.bits, verify: o.verifyPath, t: { noCookies: t.noCookies, noWorkers: t.noWorkers, done: t.done, failed: t.failed } }).replace(/</g, '\\u003c');
  const nonce = escapeHtml(o.nonce);
  return `<!doctype html><html lang="${language}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<meta name="robots" content="noindex"><title>${t.title}</title><style nonce="${nonce}">${STYLE}</style></head><body>`
    + `<h1>${t.heading}</h1>`
    + `<p>${t.why}</p>`
    + `<progress id="bar" max="1" value="0"></progress><p id="status" class="small" role="status">${t.working}</p>`
    + `<noscript><p>${t.noscript.replace('{s}', String(Math.ceil(o.retryAfterS)))}</p></noscript>`
    + `<script type="application/json" id="rempart-challenge">${cfg}</script>`
    + `<script type="text/plain" id="rempart-worker">${WORKER_SOURCE}</script>`
    + `<script nonce="${nonce}">${PAGE_SOURCE}</script></body></html>`;
}

/**
 * The Content-Security-Policy for the interstitial: only the nonce-tagged inline script and style,
 * workers from blob: URLs, no network access beyond navigating to the verify path.
 */
export function interstitialCsp(nonce: string): string {
  return `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; worker-src blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;
}
