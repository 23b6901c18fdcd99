// Screenshots of the whole X display (the desktop app under Xvfb) with
// ImageMagick's `import -window root`, into /artifacts (git-ignored).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repo } from './lab.mjs';

/** Directory the screenshots go to. */
export const artifacts = path.join(repo, 'artifacts');

/** Saves the X display as artifacts/NAME.png and returns the path. */
export function screenshotDisplay(name) {
  fs.mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, `${name}.png`);
  execFileSync('import', ['-window', 'root', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  return file;
}
