// PEV2 under Tauri's `freezePrototype`.
//
// The desktop freezes Object.prototype before the page runs. Code that then
// assigns `toString`, `valueOf` or `constructor` onto an object that only
// inherits them throws in strict mode ("the override mistake"), and PEV2's
// bundled lodash and d3 do exactly that while their modules load: lodash's
// mixin table and wrapper prototype, d3-color's `define`, d3-format's
// `FormatSpecifier.prototype.toString`. The result is no plan at all.
//
// This build step rewrites, in PEV2's bundle only, the assignments that can
// hit it: `x.toString = v` (and valueOf, constructor, ...) and
// `x.prototype[key] = v` become `__fdSet(x, key, v)`, which assigns normally
// unless the property is inherited read-only, and then defines it as an own
// property (what the assignment means). Nothing changes where the prototype
// is not frozen. Plus lodash's one `{}` table
// that is filled with dynamic keys gets a null prototype. Each rewrite is
// counted so a PEV2 upgrade that moves the code fails the build instead of
// silently breaking plans on the desktop.
import type { Plugin } from 'vite';

const INHERITED = new Set(['toString', 'valueOf', 'constructor', 'toLocaleString', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable']);

export const HELPER =
  'function __fdSet(o, k, v) { ' +
  'for (var p = o; p !== null && p !== undefined; p = Object.getPrototypeOf(p)) { ' +
  'var d = Object.getOwnPropertyDescriptor(p, k); if (!d) continue; ' +
  "if (p !== o && 'value' in d && !d.writable) { " +
  'Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true }); return v; } ' +
  'break; } o[k] = v; return v; }\n';

const LODASH_MIXIN_TABLE =
  /var (\w+) = \{\};(\s*return \w+\((\w+), function\(\w+, \w+\) \{\s*\w+\.call\(\3\.prototype, \w+\) \|\| \(\1\[\w+\] = \w+\);)/g;

interface AstNode {
  type: string;
  start: number;
  end: number;
  [k: string]: unknown;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function isNode(v: unknown): v is AstNode {
  return typeof v === 'object' && v !== null && typeof (v as AstNode).type === 'string';
}

/** Rewrites; returns the new code and how many assignments were rewritten. */
export function rewriteInheritedAssignments(code: string, ast: AstNode): { code: string; count: number } {
  const edits: Edit[] = [];
  const visit = (node: AstNode): void => {
    if (node.type === 'AssignmentExpression' && node.operator === '=') {
      const left = node.left as AstNode;
      const right = node.right as AstNode;
      if (left.type === 'MemberExpression' && left.optional !== true) {
        const obj = left.object as AstNode;
        const prop = left.property as AstNode;
        const named = !left.computed && prop.type === 'Identifier' && INHERITED.has(prop.name as string);
        const dynamicOnPrototype =
          left.computed === true &&
          prop.type !== 'Literal' &&
          obj.type === 'MemberExpression' &&
          !(obj.computed as boolean) &&
          (obj.property as AstNode).name === 'prototype';
        if (named || dynamicOnPrototype) {
          edits.push({ start: obj.start, end: obj.start, text: '__fdSet(' });
          if (named) {
            edits.push({ start: obj.end, end: right.start, text: `, ${JSON.stringify(prop.name)}, ` });
          } else {
            edits.push({ start: obj.end, end: prop.start, text: ', ' });
            edits.push({ start: prop.end, end: right.start, text: ', ' });
          }
          edits.push({ start: right.end, end: right.end, text: ')' });
        }
      }
    }
    for (const key of Object.keys(node)) {
      const v = node[key];
      if (Array.isArray(v)) for (const c of v) isNode(c) && visit(c);
      else if (isNode(v)) visit(v);
    }
  };
  visit(ast);
  // Apply from the end; insertions at one position are all ")" so their order does not matter.
  edits.sort((a, b) => b.start - a.start || b.end - a.end);
  let out = code;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return { code: out, count: edits.filter((e) => e.text === '__fdSet(').length };
}

export function pev2FrozenPrototype(): Plugin {
  return {
    name: 'fleetdeck-pev2-frozen-prototype',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]pev2[\\/]dist[\\/]pev2\.es\.js$/.test(id)) return null;
      const tables = code.match(LODASH_MIXIN_TABLE)?.length ?? 0;
      if (tables !== 1) this.error(`pev2: expected one lodash mixin table to patch for frozen prototypes, found ${tables}`);
      const patched = code.replace(LODASH_MIXIN_TABLE, 'var $1 = Object.create(null);$2');
      const { code: rewritten, count } = rewriteInheritedAssignments(patched, this.parse(patched) as unknown as AstNode);
      // PEV2 1.21: lodash (mixin, wrapper prototype), d3 (color, format, ...): a dozen or so.
      if (count < 5) this.error(`pev2: only ${count} assignments rewritten for frozen prototypes; has the bundle changed?`);
      return { code: HELPER + rewritten, map: null };
    },
  };
}
