import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cycles, edgeImports, importGraph, type Graph } from '../scripts/import-graph.js';

describe('the import graph of src/', () => {
  const graph = importGraph();

  it('reads the real tree', () => {
    // A checker that found no files would pass everything.
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('src/app/app.ts')).toContain('src/app/module.ts');
  });

  it('has no import cycle, type-only imports included', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('has no area importing app/, commands/, handlers/, slack/ or webhooks/', () => {
    expect(edgeImports(graph)).toEqual([]);
  });

  it('the checks find what they look for', () => {
    const g: Graph = new Map([
      ['src/incidents/service.ts', new Set(['src/commands/incident.ts', 'src/incidents/store.ts'])],
      ['src/incidents/store.ts', new Set(['src/incidents/service.ts'])],
      ['src/commands/incident.ts', new Set(['src/incidents/service.ts'])],
    ]);
    expect(edgeImports(g)).toEqual(['src/incidents/service.ts -> src/commands/incident.ts']);
    expect(cycles(g)).toEqual([['src/commands/incident.ts', 'src/incidents/service.ts', 'src/incidents/store.ts']]);
  });
});

describe("the README's architecture map", () => {
  const readme = readFileSync('README.md', 'utf8');
  const map = readme.slice(readme.indexOf('### Architecture: where the code lives'), readme.indexOf('<!-- /section:reference -->'));

  it('names every folder under src/, so a new folder gets its paragraph', () => {
    expect(map.length).toBeGreaterThan(500);
    const folders = readdirSync('src', { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `\`src/${e.name}/\``);
    expect(folders.filter((f) => !map.includes(f))).toEqual([]);
  });
});

describe('production code', () => {
  const graph = importGraph();
  const text = (f: string) => readFileSync(f, 'utf8');

  it('has no test-only branch on NODE_ENV', () => {
    expect([...graph.keys()].filter((f) => text(f).includes('NODE_ENV'))).toEqual([]);
  });

  it('leaves the approval decision to the gate: needsApproval is used only in approvals/', () => {
    expect([...graph.keys()].filter((f) => /\bneedsApproval\b/.test(text(f)) && !f.startsWith('src/approvals/'))).toEqual([]);
  });
});
