#!/usr/bin/env node
// Keeps package-lock.json complete for every platform's rollup binary.
//
// Why: the registry mirror on FleetDeck's build machines serves only some of
// rollup's per-platform packages (@rollup/rollup-<os>-<cpu>[-<libc>]); npm
// silently leaves the others out of the lock, and `npm ci` then refuses the
// lock everywhere ("Missing: @rollup/rollup-darwin-arm64@ from lock file").
// This adds the missing entries with the os/cpu/libc that npm uses to skip
// them on other platforms (without an integrity hash, which npm then takes
// from the registry on the platform that installs it). Run after
// `npm install` changes the lock; it is idempotent.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const rollup = lock.packages['node_modules/rollup'];
if (!rollup) throw new Error('rollup is not in the lock');

const PLATFORM = {
  'android-arm-eabi': ['android', 'arm'],
  'android-arm64': ['android', 'arm64'],
  'android-x64': ['android', 'x64'],
  'darwin-arm64': ['darwin', 'arm64'],
  'darwin-x64': ['darwin', 'x64'],
  'freebsd-arm64': ['freebsd', 'arm64'],
  'freebsd-x64': ['freebsd', 'x64'],
  'linux-arm-gnueabihf': ['linux', 'arm', 'glibc'],
  'linux-arm-musleabihf': ['linux', 'arm', 'musl'],
  'linux-arm64-gnu': ['linux', 'arm64', 'glibc'],
  'linux-arm64-musl': ['linux', 'arm64', 'musl'],
  'linux-loong64-gnu': ['linux', 'loong64', 'glibc'],
  'linux-loong64-musl': ['linux', 'loong64', 'musl'],
  'linux-ppc64-gnu': ['linux', 'ppc64', 'glibc'],
  'linux-ppc64-musl': ['linux', 'ppc64', 'musl'],
  'linux-riscv64-gnu': ['linux', 'riscv64', 'glibc'],
  'linux-riscv64-musl': ['linux', 'riscv64', 'musl'],
  'linux-s390x-gnu': ['linux', 's390x', 'glibc'],
  'linux-x64-gnu': ['linux', 'x64', 'glibc'],
  'linux-x64-musl': ['linux', 'x64', 'musl'],
  'openbsd-x64': ['openbsd', 'x64'],
  'openharmony-arm64': ['openharmony', 'arm64'],
  'win32-arm64-msvc': ['win32', 'arm64'],
  'win32-ia32-msvc': ['win32', 'ia32'],
  'win32-x64-gnu': ['win32', 'x64'],
  'win32-x64-msvc': ['win32', 'x64'],
};

let added = 0;
for (const [name, version] of Object.entries(rollup.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key] || !name.startsWith('@rollup/rollup-')) continue;
  const platform = PLATFORM[name.slice('@rollup/rollup-'.length)];
  if (!platform) throw new Error(`unknown rollup platform package ${name}: add it to PLATFORM`);
  const [os, cpu, libc] = platform;
  lock.packages[key] = {
    version,
    cpu: [cpu],
    dev: true,
    ...(libc ? { libc: [libc] } : {}),
    license: 'MIT',
    optional: true,
    os: [os],
  };
  added++;
}
// npm keeps `packages` sorted by path.
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} rollup platform entries added`);
