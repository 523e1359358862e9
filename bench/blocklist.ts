/**
 * Blocklist lookup cost against table size: Rempart's CIDR table (one hash probe per prefix length
 * present) against node:net BlockList (a linear scan of its rules), same entries, same addresses,
 * same run. Writes the table into docs/benchmarks.md between the bench:blocklist markers.
 */
import { BlockList } from 'node:net';
import { loadavg } from 'node:os';
import { createCidrTable } from '../src/shield/index.js';
import { createRng } from '../src/core/rng.js';
import { replaceMarkdownSection } from '../src/core/markdown-section.js';
import { formatCidr, formatIp, parseCidr, parseIp, type Cidr, type ParsedIp } from '../src/core/ip.js';

const SIZES = [10, 10_000, 100_000, 1_000_000] as const;
const QUERIES = 20_000;
const ROUNDS = 9;
// node:net BlockList is linear: fewer lookups at large sizes keep the run bounded; none is extrapolated.
const BLOCKLIST_QUERIES: Record<number, number> = { 10: QUERIES, 10_000: 2_000, 100_000: 200, 1_000_000: 20 };

const random = createRng(0x5eed).next;
const u32 = (): number => Math.floor(random() * 4294967296) >>> 0;
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

/** A realistic mix: mostly single IPv4 hosts, some /24 and /16, a spread of others, ~10% IPv6. */
function randomBlock(): Cidr {
  const r = random();
  if (r < 0.9) {
    const prefix = r < 0.63 ? 32 : r < 0.77 ? 24 : r < 0.82 ? 16 : pick([8, 12, 20, 22, 28, 30]);
    return parseCidr(`${formatIp({ family: 4, value: u32() })}/${prefix}`);
  }
  const value = (0x2000n << 112n) | (BigInt(u32() & 0x0fffffff) << 96n) | (BigInt(u32()) << 64n) | (BigInt(u32()) << 32n) | BigInt(u32());
  return parseCidr(`${formatIp({ family: 6, value })}/${pick([64, 64, 128, 48])}`);
}

/** Half inside a random entry, half random (mostly misses); IPv6 in the same proportion as entries. */
function randomQuery(blocks: readonly Cidr[]): string {
  const inside = random() < 0.5;
  const block = pick(blocks);
  if (block.family === 4) {
    const host = block.prefix === 32 ? 0 : u32() & (2 ** (32 - block.prefix) - 1);
    return formatIp({ family: 4, value: inside ? (block.network | host) >>> 0 : u32() });
  }
  const ip: ParsedIp = inside
    ? { family: 6, value: block.network | (BigInt(u32()) & ((1n << BigInt(128 - block.prefix)) - 1n)) }
    : { family: 6, value: (0x2000n << 112n) | (BigInt(u32()) << 64n) | BigInt(u32()) };
  return formatIp(ip);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** ns per call of one pass of `run` over `n` inputs, and how many of them hit. */
function timePass(n: number, run: () => number): { ns: number; hits: number } {
  const started = process.hrtime.bigint();
  const hits = run();
  return { ns: Number(process.hrtime.bigint() - started) / n, hits };
}

interface Subject {
  size: number;
  lengths: number;
  listQueries: number;
  runs: { table(): number; parsed(): number; list(): number; tableOnListQueries(): number };
}
interface Row { size: number; tableNs: number; parsedNs: number; listNs: number; listQueries: number; hitsAgree: boolean; lengths: number }

function prepare(size: number): Subject {
  const blocks = Array.from({ length: size }, randomBlock);
  const table = createCidrTable<number>();
  const list = new BlockList();
  blocks.forEach((block, n) => {
    table.add(block, n);
    const [address = '', prefix = ''] = formatCidr(block).split('/');
    list.addSubnet(address, Number(prefix), block.family === 4 ? 'ipv4' : 'ipv6');
  });
  const queries = Array.from({ length: QUERIES }, () => randomQuery(blocks));
  const parsed = queries.map((q) => parseIp(q) as ParsedIp);
  const families = queries.map((q) => (q.includes(':') ? 'ipv6' : 'ipv4'));
  const listQueries = BLOCKLIST_QUERIES[size] ?? 200;
  const lengths = new Set(blocks.map((b) => `${b.family}/${b.prefix}`)).size;
  return {
    size, lengths, listQueries,
    runs: {
      table: () => {
        let hits = 0;
        for (let i = 0; i < QUERIES; i++) if (table.lookup(queries[i] as string, 0) !== undefined) hits++;
        return hits;
      },
      parsed: () => {
        let hits = 0;
        for (let i = 0; i < QUERIES; i++) if (table.lookupParsed(parsed[i] as ParsedIp, 0) !== undefined) hits++;
        return hits;
      },
      list: () => {
        let hits = 0;
        for (let i = 0; i < listQueries; i++) if (list.check(queries[i] as string, families[i])) hits++;
        return hits;
      },
      tableOnListQueries: () => {
        let hits = 0;
        for (let i = 0; i < listQueries; i++) if (table.lookup(queries[i] as string, 0) !== undefined) hits++;
        return hits;
      },
    },
  };
}

/**
 * Rounds are interleaved across sizes, so a burst of load from the machine's other work lands
 * on every size alike instead of skewing one of them; each figure is the median of its rounds.
 */
function measureAll(subjects: readonly Subject[]): Row[] {
  const samples = subjects.map(() => ({ table: [] as number[], parsed: [] as number[], list: [] as number[], listHits: -1 }));
  for (let round = -1; round < ROUNDS; round++) { // round -1 warms up
    subjects.forEach((subject, k) => {
      const into = samples[k];
      if (into === undefined) return;
      const table = timePass(QUERIES, subject.runs.table);
      const parsed = timePass(QUERIES, subject.runs.parsed);
      const list = timePass(subject.listQueries, subject.runs.list);
      into.listHits = list.hits;
      if (round < 0) return;
      into.table.push(table.ns);
      into.parsed.push(parsed.ns);
      into.list.push(list.ns);
    });
  }
  return subjects.map((subject, k) => {
    const got = samples[k] ?? { table: [], parsed: [], list: [], listHits: -1 };
    return {
      size: subject.size, lengths: subject.lengths, listQueries: subject.listQueries,
      tableNs: median(got.table), parsedNs: median(got.parsed), listNs: median(got.list),
      hitsAgree: subject.runs.tableOnListQueries() === got.listHits, // same addresses, same answer
    };
  });
}

const started = Date.now();
const rows = measureAll(SIZES.map(prepare));
const fmt = (ns: number): string => (ns >= 10_000 ? ns.toExponential(2) : ns.toFixed(0));
const base = rows[0] as Row;
const lines = [
  '| entries | prefix lengths present | CidrTable.lookup(string) ns | CidrTable.lookupParsed ns | net.BlockList.check ns (lookups measured) | BlockList ÷ CidrTable | same hits |',
  '|---:|---:|---:|---:|---:|---:|:---:|',
  ...rows.map((r) => `| ${r.size.toLocaleString('en')} | ${r.lengths} | ${fmt(r.tableNs)} | ${fmt(r.parsedNs)} | ${fmt(r.listNs)} (${r.listQueries.toLocaleString('en')}) | ${(r.listNs / r.tableNs).toFixed(1)}× | ${r.hitsAgree ? 'yes' : 'NO'} |`),
];
const last = rows.at(-1) as Row;
const summary = `Growth from ${base.size} to ${last.size.toLocaleString('en')} entries: CidrTable.lookup ×${(last.tableNs / base.tableNs).toFixed(2)}, `
  + `lookupParsed ×${(last.parsedNs / base.parsedNs).toFixed(2)}, net.BlockList.check ×${(last.listNs / base.listNs).toFixed(0)}.`
  + (rows.length >= 2 ? ` Once every Map is out of cache (${(rows.at(-2) as Row).size.toLocaleString('en')} → ${last.size.toLocaleString('en')} entries, ×10):`
    + ` CidrTable.lookup ×${(last.tableNs / (rows.at(-2) as Row).tableNs).toFixed(2)}, net.BlockList.check ×${(last.listNs / (rows.at(-2) as Row).listNs).toFixed(1)}.` : '');
const markdown = [
  '### Blocklist lookup: CidrTable vs node:net BlockList',
  '',
  `Command: \`npm run bench:blocklist\` — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${process.platform}/${process.arch},`
    + ` load average ${loadavg()[0]?.toFixed(1)} at the end (shared machine: compare ratios, not absolute figures).`,
  `Median of ${ROUNDS} rounds (after a warm-up; rounds interleaved across sizes) over ${QUERIES.toLocaleString('en')} pre-generated addresses, half inside an entry, ~10% IPv6;`,
  'entries are ~63% IPv4 /32, ~14% /24, ~5% /16, a spread of other IPv4 lengths, ~10% IPv6 /48, /64, /128.',
  'BlockList is a linear scan, so it is timed on the first N addresses only (N in brackets); nothing is extrapolated.',
  '"same hits" checks that both structures matched the same number of those addresses.',
  '',
  ...lines,
  '',
  summary,
  'A CidrTable lookup probes at most one Map per prefix length present (second column), whatever the entry count;',
  'what still rises with size is memory traffic, as larger Maps fall out of the CPU caches.',
].join('\n');

console.log(markdown);
replaceMarkdownSection(new URL('../docs/benchmarks.md', import.meta.url), 'bench:blocklist', markdown);
console.log(`\nwrote docs/benchmarks.md (${((Date.now() - started) / 1000).toFixed(1)} s)`);
