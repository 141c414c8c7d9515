// A strict reader of the Prometheus text exposition format (0.0.4), for the tests of /metrics.
import assert from 'node:assert/strict';

/** A scrape: each sample as written (name with its labels) -> value. */
export type Samples = Map<string, number>;

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\["\\\\n])*"';
const VALUE = '(?:[-+]?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?|[-+]?Inf|NaN)';
const SAMPLE_LINE = new RegExp(`^(${NAME})(\\{${LABEL}(?:,${LABEL})*\\})? (${VALUE})$`);
const HELP_LINE = new RegExp(`^# HELP (${NAME}) .+$`);
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

/**
 * Parses the Prometheus text format (0.0.4) strictly: every line is a HELP, a TYPE or a sample; each family has
 * its HELP and TYPE before its samples; each sample belongs to the family announced last (a histogram's
 * _bucket/_sum/_count, a summary's _sum/_count and quantiles).
 */
export function parseExposition(text: string): { samples: Samples; types: Map<string, string> } {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const samples: Samples = new Map();
  const types = new Map<string, string>();
  const helped = new Set<string>();
  let family: string | undefined;
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, index) => {
      const where = `line ${index + 1}: ${JSON.stringify(line)}`;
      if (line === '') return;
      const help = HELP_LINE.exec(line);
      if (help?.[1]) {
        assert.ok(!helped.has(help[1]), `${where}: a second HELP for ${help[1]}`);
        helped.add(help[1]);
        family = help[1];
        return;
      }
      const type = TYPE_LINE.exec(line);
      if (type?.[1] && type[2]) {
        assert.equal(type[1], family, `${where}: TYPE follows its family's HELP`);
        assert.ok(!types.has(type[1]), `${where}: a second TYPE for ${type[1]}`);
        types.set(type[1], type[2]);
        return;
      }
      const sample = SAMPLE_LINE.exec(line);
      assert.ok(sample?.[1] && sample[3] !== undefined, `${where}: not a HELP, TYPE or sample line`);
      const name = sample[1];
      const kind = family === undefined ? undefined : types.get(family);
      assert.ok(family !== undefined && kind !== undefined, `${where}: a sample before any HELP and TYPE`);
      const suffixes = kind === 'histogram' ? ['_bucket', '_sum', '_count'] : kind === 'summary' ? ['', '_sum', '_count'] : [''];
      assert.ok(suffixes.some((suffix) => name === family + suffix), `${where}: ${name} is not part of ${family} (${kind})`);
      const key = name + (sample[2] ?? '');
      assert.ok(!samples.has(key), `${where}: ${key} appears twice`);
      samples.set(key, Number(sample[3].replace('Inf', 'Infinity')));
    });
  return { samples, types };
}

