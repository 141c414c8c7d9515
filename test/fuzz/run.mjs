#!/usr/bin/env node
// `npm run fuzz -- --runs N [--seed S] [--grep TEST] [files...]`: the fuzz properties of test/fuzz/ with N inputs each and a random
// seed (or S); prints the seed and the number of inputs tried (README "Fuzzing").
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const env = { ...process.env };
const files = [];
const grep = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') env.FUZZ_RUNS = args[++i];
  else if (args[i] === '--seed') env.FUZZ_SEED = args[++i];
  else if (args[i] === '--grep' || args[i] === '-g') grep.push('--grep', args[++i]);
  else files.push(args[i]);
}
env.FUZZ_RUNS ??= '10000';
const started = Date.now();
const result = spawnSync('npx', ['mocha', '--no-config', '--node-option', 'import=tsx', '--extension', 'ts', '--timeout', '0', '--exit',
  ...grep, ...(files.length > 0 ? files : ['test/fuzz/*.test.ts'])], { stdio: 'inherit', env });
console.log(`fuzz: ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(result.status ?? 1);
