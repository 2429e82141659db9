/**
 * The import graph of src/, and the two rules test/import-graph.test.ts holds it to:
 * no import cycle (type-only imports count: they are how a cycle starts), and no area
 * importing the edge (the folders that face Slack, HTTP and people) or the composition root.
 *
 * `npx tsx scripts/import-graph.ts` prints the folder-level graph and any violation.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Folders that translate people and protocols into calls on the areas (chat/ also holds the surface port areas post through). */
export const EDGE = ['app', 'chat', 'cli', 'commands', 'console', 'handlers', 'slack', 'webhooks'] as const;
/** What an area must not import. */
export const FORBIDDEN_FOR_AREAS = ['app', 'commands', 'handlers', 'slack', 'webhooks'] as const;

export type Graph = Map<string, Set<string>>;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** File -> files it imports (relative imports only), paths relative to the repository. */
export function importGraph(srcDir = path.join(root, 'src')): Graph {
  const graph: Graph = new Map();
  for (const file of sourceFiles(srcDir)) {
    const from = path.relative(root, file);
    const deps = new Set<string>();
    for (const { fileName } of ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      deps.add(path.relative(root, path.resolve(path.dirname(file), fileName.replace(/\.js$/, '.ts'))));
    }
    graph.set(from, deps);
  }
  return graph;
}

/** The top-level folder under src/ (or the file name for files directly in src/). */
export const folderOf = (file: string): string => file.split('/')[1]!.replace(/\.ts$/, '');

/** Every strongly connected group of more than one file, or a file importing itself. */
export function cycles(graph: Graph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || graph.get(v)?.has(v)) found.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

/** Imports from an area (anything not at the edge) into a folder areas must not know. */
export function edgeImports(graph: Graph): string[] {
  const out: string[] = [];
  for (const [from, deps] of graph) {
    const area = folderOf(from);
    if ((EDGE as readonly string[]).includes(area) || from.split('/').length === 2) continue;
    for (const to of deps) {
      if ((FORBIDDEN_FOR_AREAS as readonly string[]).includes(folderOf(to))) out.push(`${from} -> ${to}`);
    }
  }
  return out.sort();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const graph = importGraph();
  const folders = new Map<string, Set<string>>();
  for (const [from, deps] of graph) {
    for (const to of deps) {
      const [a, b] = [folderOf(from), folderOf(to)];
      if (a !== b) (folders.get(a) ?? folders.set(a, new Set()).get(a)!).add(b);
    }
  }
  for (const [a, bs] of [...folders].sort()) console.log(`${a} -> ${[...bs].sort().join(', ')}`);
  const cyc = cycles(graph);
  const up = edgeImports(graph);
  for (const c of cyc) console.log(`cycle: ${c.join(' <-> ')}`);
  for (const e of up) console.log(`area imports the edge: ${e}`);
  process.exitCode = cyc.length || up.length ? 1 : 0;
}
