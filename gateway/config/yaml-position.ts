import { isMap, isScalar, type Document, type LineCounter } from 'yaml';

/** A parsed config file: what the cross-checks need to point at a line. */
export interface ParsedFile {
  shown: string;
  doc: Document;
  lines: LineCounter;
}

/** Line and column of the node at `path`, or of its nearest existing ancestor. */
export function locate(file: ParsedFile, path: readonly PropertyKey[]): { line: number; col: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = file.doc.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return file.lines.linePos(node.range[0]);
  }
  return { line: 1, col: 1 };
}

export function keyPosition(file: ParsedFile, path: readonly PropertyKey[], key: string): { line: number; col: number } {
  const map = file.doc.getIn(path as unknown[], true);
  if (isMap(map)) {
    const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
    const range = isScalar(pair?.key) ? pair.key.range : undefined;
    if (range) return file.lines.linePos(range[0]);
  }
  return locate(file, path);
}

