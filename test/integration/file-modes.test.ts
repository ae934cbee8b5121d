import t from 'tap';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../gateway/log.js';
import { startGateway } from '../../gateway/main.js';
import { enableMessaging, LogSink, mustLoad, writeTestConfig } from '../helpers/gateway.js';

const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

t.test('after a start with umask 0: data directories are 0700 and data and generated key files 0600', async (t) => {
  const previous = process.umask(0);
  t.teardown(() => { process.umask(previous); });
  const cfg = writeTestConfig({ store: 'lmdb' });
  t.teardown(() => cfg.cleanup());
  const gw = join(cfg.dir, 'gateway.yaml');
  writeFileSync(gw, readFileSync(gw, 'utf8').replace('  ref: file:data.key\n', '  ref: file:keys/data.key\n  generateIfMissing: true\n'));
  enableMessaging(cfg, {}, '');
  const gateway = await startGateway(mustLoad(cfg.dir), createLogger({ level: 'silent', destination: new LogSink() }));
  t.teardown(() => gateway.stop());
  t.equal(mode(join(cfg.dir, 'data/lmdb')), '700', 'data/lmdb/');
  for (const f of ['data/lmdb/data.mdb', 'data/lmdb/lock.mdb',
    'keys/data.key', 'keys/directory.key', 'keys/service.key']) t.equal(mode(join(cfg.dir, f)), '600', f);
  t.equal(mode(join(cfg.dir, 'keys')), '700', 'keys/');
});
