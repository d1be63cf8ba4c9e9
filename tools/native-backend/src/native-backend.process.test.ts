import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeBackendRequired } from '@distgan/runtime';
import { afterAll, describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'distgan-native-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A zip made with Python's zipfile (the same module the extractor reads with). */
function zip(path: string, files: Record<string, string>): void {
  const script =
    'import json, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z:\n    for name, text in json.loads(sys.argv[2]).items(): z.writestr(name, text)\n';
  const r = spawnSync('python3', ['-c', script, path, JSON.stringify(files)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}

const extract = (wheel: string, dest: string, sources: string) =>
  spawnSync('python3', [join(here, 'extract-wheel.py'), wheel, dest, sources], { encoding: 'utf8' });

describe('extract-wheel.py', () => {
  const sources = join(tmp, 'binding');
  mkdirSync(sources, { recursive: true });
  writeFileSync(join(sources, 'tfjs_backend.cc'), '#include "tensorflow/c/c_api.h"\n#include <vector>\n');

  it("copies the libraries, the link names tfjs-node links against, and only the headers the binding's sources reach", () => {
    const wheel = join(tmp, 'good.whl');
    zip(wheel, {
      'tensorflow/libtensorflow_cc.so.2': 'cc',
      'tensorflow/libtensorflow_framework.so.2': 'fw',
      'tensorflow/include/tensorflow/c/c_api.h': '#include "tensorflow/c/tf_status.h"\n',
      'tensorflow/include/tensorflow/c/tf_status.h': '#include "xla/tsl/c/tsl_status.h"\n#include <stdint.h>\n',
      'tensorflow/include/xla/tsl/c/tsl_status.h': '// leaf\n',
      'tensorflow/include/tensorflow/core/unused.h': '// not reached\n',
    });
    const dest = join(tmp, 'deps');
    const r = extract(wheel, dest, sources);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dest, 'lib', 'libtensorflow_cc.so.2'), 'utf8')).toBe('cc');
    expect(readlinkSync(join(dest, 'lib', 'libtensorflow.so.2'))).toBe('libtensorflow_cc.so.2');
    expect(readlinkSync(join(dest, 'lib', 'libtensorflow.so'))).toBe('libtensorflow_cc.so.2');
    expect(readlinkSync(join(dest, 'lib', 'libtensorflow_framework.so'))).toBe('libtensorflow_framework.so.2');
    expect(existsSync(join(dest, 'include', 'xla', 'tsl', 'c', 'tsl_status.h'))).toBe(true);
    expect(existsSync(join(dest, 'include', 'tensorflow', 'core', 'unused.h'))).toBe(false);
    expect(extract(wheel, dest, sources).status).toBe(0); // again, over its own output
  });

  it('fails with a clear message for a wheel without the C library or the headers', () => {
    const noLibrary = join(tmp, 'nolib.whl');
    zip(noLibrary, { 'tensorflow/include/tensorflow/c/c_api.h': '' });
    const r = extract(noLibrary, join(tmp, 'deps2'), sources);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/has no tensorflow\/libtensorflow_cc\.so\.2: not a tensorflow-cpu wheel for Linux\?/);
    const noHeaders = join(tmp, 'noheaders.whl');
    zip(noHeaders, { 'tensorflow/libtensorflow_cc.so.2': '', 'tensorflow/libtensorflow_framework.so.2': '' });
    const h = extract(noHeaders, join(tmp, 'deps3'), sources);
    expect(h.status).toBe(1);
    expect(h.stderr).toMatch(/lacks tensorflow\/c\/c_api\.h/);
  });
});

describe('npm run native-backend', () => {
  const script = join(here, 'native-backend.sh');

  it('prints its usage for --help, and refuses an unknown argument with it', () => {
    const help = spawnSync('bash', [script, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/npm run native-backend -- --check/);
    const bad = spawnSync('bash', [script, '--bogus'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/native-backend: error: unknown argument '--bogus'/);
  });

  it('--check loads the node backend through the chooser, or says why not and exits 1', () => {
    const r = spawnSync('bash', [script, '--check'], { encoding: 'utf8' });
    if (r.status === 0) expect(r.stdout).toMatch(/native-backend: backend node works on Node\.js v\d+/);
    else {
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/native-backend: error: backend "node" could not be loaded/);
    }
    // With DISTGAN_BACKEND=node (CI after setting it up) the backend must be there.
    if (nativeBackendRequired()) expect(r.status).toBe(0);
  }, 60_000);
});
