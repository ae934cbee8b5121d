import t from 'tap';
import { parseArgs } from 'node:util';
import { joinValues } from '../../../client/cli.js';

t.test('an option value that starts with a dash (a base64url id or token) is read as the value', async (t) => {
  const options = new Set(['reply-to', 'token', 'to']);
  const argv = ['send', '--to', 'mutuelle-x', '--reply-to', '-q3Jw7v0GJ1y8pT0mS8nq4w', '--json', '--token=-already-joined'];
  const joined = joinValues(argv, options);
  t.same(joined, ['send', '--to=mutuelle-x', '--reply-to=-q3Jw7v0GJ1y8pT0mS8nq4w', '--json', '--token=-already-joined']);
  const { values } = parseArgs({
    args: joined, allowPositionals: true,
    options: { to: { type: 'string', multiple: true }, 'reply-to': { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } },
  });
  t.equal(values['reply-to'], '-q3Jw7v0GJ1y8pT0mS8nq4w');
  t.equal(values.token, '-already-joined');
  t.throws(() => parseArgs({ args: argv, allowPositionals: true, options: { to: { type: 'string', multiple: true }, 'reply-to': { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } } }),
    'without joining, parseArgs refuses the dash value (what users met)');
  t.same(joinValues(['inbox', '--all', '--dir'], options.add('dir')), ['inbox', '--all', '--dir'], 'an option missing its value is left for parseArgs to report');
});
