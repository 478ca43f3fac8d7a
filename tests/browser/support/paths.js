// @ts-check
/** Where things are: the repository, and the git-ignored folder of screenshots and logs. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BROWSER_TESTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(BROWSER_TESTS, '..', '..');
export const ARTIFACTS = path.join(BROWSER_TESTS, 'artifacts');
/** Debian's Chromium: the only browser these tests run; no tool downloads one of its own. */
export const CHROMIUM = '/usr/bin/chromium';
