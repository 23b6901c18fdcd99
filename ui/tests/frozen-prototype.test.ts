// @vitest-environment node
// Regression: under Tauri's freezePrototype, PEV2 drew no plan (lodash and d3
// assign toString/valueOf/constructor onto objects that only inherit them).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { parseAst } from 'vite';
import { HELPER, rewriteInheritedAssignments } from '../build/frozen-prototype';


const SNIPPET = `'use strict';
function F() {}
F.prototype.toString = function () { return 'spec'; };
var o = {};
o.constructor = F;
var P = function () {};
var names = ['valueOf'];
P.prototype[names[0]] = function () { return 2; };
var W = function () {};
W.prototype.toJSON = W.prototype.valueOf = W.prototype.value = function () { return 3; };
result = [String(new F()), o.constructor === F, new P().valueOf(), new W().valueOf()];
`;

function runFrozen(code: string): unknown {
  const ctx = vm.createContext({ result: null });
  vm.runInContext('Object.freeze(Object.prototype);', ctx);
  vm.runInContext(code, ctx);
  return JSON.parse(JSON.stringify(ctx.result));
}

describe('PEV2 under a frozen Object.prototype', () => {
  it('the override mistake throws without the rewrite', () => {
    expect(() => runFrozen(SNIPPET)).toThrow(/read only property/);
  });

  it('the rewrite makes the same code run, with the same result', () => {
    const { code, count } = rewriteInheritedAssignments(SNIPPET, parseAst(SNIPPET) as never);
    expect(count).toBe(4);
    expect(runFrozen(HELPER + code)).toEqual(['spec', true, 2, 3]);
  });

  it('finds the assignments in the PEV2 bundle this build ships', () => {
    const require = createRequire(import.meta.url);
    const file = require.resolve('pev2').replace(/pev2\.umd\.js$/, 'pev2.es.js');
    const src = readFileSync(file, 'utf8');
    const { count } = rewriteInheritedAssignments(src, parseAst(src) as never);
    expect(count).toBeGreaterThanOrEqual(5);
  });
});
