import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultMnistDir } from '@distgan/mnist';
import { encodeMessage, maxFrameBytes, PROTOCOL_VERSION } from '@distgan/protocol';
import { pack } from 'msgpackr';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkListenPolicy, isLoopbackAddress } from './server.js';
import { RawClient } from './test-support/raw-client.js';
import { coordinatorUrl, readSummary, runToEnd, startCoordinator, startWorker, testRuns } from './test-support/processes.js';

const { tmp, runDir } = testRuns();

const ARGS = ['--preset', 'tiny', '--steps', '12', '--shards', '4', '--seed', '9', '--sample-every', '0'];
let reference = '';
beforeAll(async () => {
  reference = (await runToEnd([...ARGS, '--in-process', '--run-dir', runDir()])).summary.weightsSha256;
});

describe('authentication', () => {
  it('rejects a missing or wrong token with HTTP 401 before any WebSocket exists, and admits the right one', async () => {
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--workers', '0', '--run-dir', dir], { DISTGAN_TOKEN: 's3cret-token' });
    const url = await coordinatorUrl(c);
    await expect(new RawClient(url).opened).rejects.toThrow('HTTP 401');
    await expect(new RawClient(url, 's3cret-tokeN').opened).rejects.toThrow('HTTP 401');
    const httpUrl = url.replace('ws://', 'http://');
    expect((await fetch(`${httpUrl}/api/status`)).status).toBe(401);
    expect((await fetch(`${httpUrl}/api/status`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);

    const wrong = startWorker(url, ['--token', 'nope']);
    expect((await wrong.exited).code).toBe(2);
    expect(wrong.stderr).toMatch(/rejected the token \(HTTP 401\)/);

    startWorker(url, [], { DISTGAN_TOKEN: 's3cret-token' });
    expect((await c.exited).code).toBe(0);
    expect(readSummary(dir).weightsSha256).toBe(reference);
  });

  it('refuses to listen beyond loopback without a token, saying why, before it creates anything', async () => {
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--host', '0.0.0.0', '--workers', '0', '--run-dir', dir]);
    expect((await c.exited).code).toBe(1);
    expect(c.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without a token/);
    expect(existsSync(dir)).toBe(false); // so the corrected command starts afresh
    const tls = startCoordinator([
      ...ARGS,
      '--tls-cert',
      join(tmp.path, 'missing.pem'),
      '--tls-key',
      join(tmp.path, 'missing.key'),
      '--workers',
      '0',
      '--run-dir',
      dir,
    ]);
    expect((await tls.exited).code).toBe(1);
    expect(tls.stderr).toMatch(/--tls-cert .*missing\.pem: ENOENT/);
    expect(existsSync(dir)).toBe(false);
  });

  it('decides loopback on the addresses a host resolves to, never on how its name looks', async () => {
    const resolver = (table: Record<string, string[]>) => async (host: string) => table[host] ?? [];
    const dns = resolver({
      '127.attacker.example': ['203.0.113.7'],
      localhost: ['127.0.0.1', '::1'],
      both: ['127.0.0.1', '192.0.2.1'],
      '127.0.0.2': ['127.0.0.2'],
    });
    await expect(checkListenPolicy('127.attacker.example', undefined, dns)).rejects.toThrow(
      'refusing to listen on 127.attacker.example (203.0.113.7) without a token',
    );
    await expect(checkListenPolicy('both', undefined, dns)).rejects.toThrow('(192.0.2.1)');
    await expect(checkListenPolicy('nowhere', undefined, dns)).rejects.toThrow('refusing to listen on nowhere without a token');
    await expect(checkListenPolicy('localhost', undefined, dns)).resolves.toBeUndefined();
    await expect(checkListenPolicy('127.0.0.2', undefined, dns)).resolves.toBeUndefined();
    await expect(checkListenPolicy('127.attacker.example', 'a-token', dns)).resolves.toBeUndefined();
    await expect(checkListenPolicy('no-such-host.invalid', undefined)).rejects.toThrow(/cannot resolve --host no-such-host\.invalid/);
    expect(['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'].filter(isLoopbackAddress)).toHaveLength(5);
    expect(['0.0.0.0', '10.0.0.1', '::', 'fe80::1', '::ffff:10.0.0.1', 'localhost', '127.attacker.example'].filter(isLoopbackAddress)).toEqual([]);
    const c = startCoordinator([...ARGS, '--host', '127.attacker.example', '--workers', '0', '--run-dir', runDir()]);
    expect((await c.exited).code).toBe(1);
    expect(c.stderr).toMatch(/cannot resolve --host 127\.attacker\.example|refusing to listen on 127\.attacker\.example/);
  });

  it('serves wss:// with --tls-cert/--tls-key, and a worker trusting it with --ca trains to the same hash', async () => {
    const cert = join(tmp.path, 'cert.pem');
    const key = join(tmp.path, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--workers', '0', '--tls-cert', cert, '--tls-key', key, '--token', 'tls-token', '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    expect(url).toMatch(/^wss:\/\//);
    const untrusting = startWorker(url, ['--token', 'tls-token', '--give-up-after', '1']);
    await untrusting.waitFor(/self.signed|certificate/i);
    startWorker(url, ['--token', 'tls-token', '--ca', cert]);
    expect((await c.exited).code).toBe(0);
    expect(readSummary(dir).weightsSha256).toBe(reference);
  });
});

describe('hostile and broken input: each violation closes that connection with its code; training goes on', () => {
  it('closes with the specific code for every kind of bad frame while a real worker finishes the undisturbed run', async () => {
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--workers', '0', '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    startWorker(url, ['--name', 'honest', '--delay-ms', '30']);
    await c.waitFor(/honest@.* joined/);

    const closeOf = async (act: (client: RawClient) => Promise<void> | void) => {
      const client = new RawClient(url);
      await client.opened;
      await act(client);
      return client.closed;
    };
    const valid = encodeMessage({ type: 'hello', protocol: PROTOCOL_VERSION, worker: { name: 'x', host: 'y', pid: 1, backend: 'z' }, snapshotDir: null });
    expect((await closeOf((cl) => cl.sendRaw(Uint8Array.from({ length: 64 }, (_, i) => (i * 73) % 256)))).code).toBe(4000);
    expect((await closeOf((cl) => cl.sendRaw(valid.subarray(0, valid.length - 5)))).code).toBe(4000);
    expect((await closeOf((cl) => cl.sendRaw('{"type":"hello"}'))).code).toBe(4000);
    expect((await closeOf((cl) => cl.sendRaw(pack({ type: 'gimme-weights' })))).code).toBe(4001);
    expect((await closeOf((cl) => cl.sendRaw(pack({ type: 'hello', protocol: PROTOCOL_VERSION, worker: 'me' })))).code).toBe(4002);
    const versionClient = new RawClient(url);
    await versionClient.opened;
    versionClient.hello(PROTOCOL_VERSION + 98);
    const err = await versionClient.next('error');
    expect(err.message).toMatch(`the worker speaks protocol ${PROTOCOL_VERSION + 98}, the coordinator speaks ${PROTOCOL_VERSION}`);
    expect((await versionClient.closed).code).toBe(4003);
    expect(
      (
        await closeOf(async (cl) => {
          cl.hello();
          const w = await cl.next('welcome');
          cl.send({ type: 'ready', configHash: 'e'.repeat(64), datasetFingerprint: w.datasetFingerprint as string });
        })
      ).code,
    ).toBe(4004);
    expect(
      (
        await closeOf(async (cl) => {
          cl.hello();
          const w = await cl.next('welcome');
          cl.send({ type: 'ready', configHash: w.configHash as string, datasetFingerprint: 'e'.repeat(64) });
        })
      ).code,
    ).toBe(4005);
    expect(
      (
        await closeOf(async (cl) => {
          const w = await cl.handshake();
          cl.send({ type: 'ready', configHash: w.configHash as string, datasetFingerprint: w.datasetFingerprint as string });
        })
      ).code,
    ).toBe(4008);
    // 5,000 error messages before hello: the first 5 logged, the 50th closes the connection.
    const flood = await closeOf((cl) => {
      for (let i = 0; i < 5_000; i++) cl.send({ type: 'error', code: 'SPAM', message: `flood ${i}` });
    });
    expect(flood.code).toBe(4012);
    const fakeResult = (over: Record<string, unknown>) => ({
      type: 'result',
      step: 0,
      phase: 'D',
      shard: 0,
      gradient: new Uint8Array(4 * 12_577),
      lossSum: 1,
      dRealSum: 1,
      dFakeSum: 1,
      computeMs: 1,
      cpuMs: 1,
      ...over,
    });
    expect((await closeOf((cl) => cl.sendRaw(pack(fakeResult({}))))).code).toBe(4008);

    // As an authenticated, handshaken worker: answer its real task with bad results.
    const asWorker = async (make: (task: Record<string, unknown>) => Record<string, unknown>) =>
      closeOf(async (cl) => {
        await cl.handshake();
        const task = await cl.next('task');
        cl.sendRaw(pack(make(task)));
      });
    const dParams = 784 * 16 + 16 + 16 + 1;
    const gParams = 8 * 16 + 16 + 16 * 784 + 784;
    const size = (t: Record<string, unknown>) => (t.phase === 'D' ? dParams : gParams);
    const resultFor = (t: Record<string, unknown>, gradient: Float32Array) =>
      fakeResult({ step: t.step, phase: t.phase, shard: t.shard, gradient: new Uint8Array(gradient.buffer) });
    expect((await asWorker((t) => resultFor(t, new Float32Array(size(t) - 1)))).code).toBe(4006);
    expect((await asWorker((t) => resultFor(t, new Float32Array(size(t)).fill(Number.NaN)))).code).toBe(4007);
    expect((await asWorker((t) => ({ ...resultFor(t, new Float32Array(size(t))), lossSum: Infinity }))).code).toBe(4007);
    // Finite, but its square would make Adam's second moment infinite and freeze the network.
    expect((await asWorker((t) => resultFor(t, new Float32Array(size(t)).fill(3e38)))).code).toBe(4013);
    expect(
      (await asWorker((t) => resultFor({ ...t, shard: (t.shard as number) === 0 ? 1 : 0, step: (t.step as number) + 5 }, new Float32Array(size(t))))).code,
    ).toBe(4009);
    // Larger than maxPayload (sized to the model, not ws's 100 MiB default): ws closes with 1009.
    expect((await closeOf((cl) => cl.sendRaw(new Uint8Array(maxFrameBytes(dParams, gParams) + 1)))).code).toBe(1009);

    expect((await c.exited).code).toBe(0);
    expect(readSummary(dir).weightsSha256).toBe(reference);
    expect(c.stderr).toMatch(/closing worker w\d+ .*: NON_FINITE/);
    expect(c.stderr).toMatch(/closing worker w\d+ .*: OUT_OF_RANGE: [DG] gradient value 0 is 3\.\d+e\+38, beyond/);
    expect(c.stderr).toMatch(/closing worker w\d+ .*: UNEXPECTED_MESSAGE.*ready sent twice/);
    expect(c.stderr.match(/reported SPAM: flood/g)).toHaveLength(5);
    expect(c.stderr).toMatch(/closing worker w\d+ .*: ERROR_FLOOD: 50 error messages on one connection/);
    expect(c.stderr).toMatch(/sent 50 error messages in all/);
  });

  it('result files: only from a worker reading the shared folder, only under its own names, only a whole, finite gradient of this model', async () => {
    const dir = runDir();
    // The local worker is slowed so that the run lasts while each raw client gets a task.
    const c = startCoordinator([...ARGS, '--workers', '1', '--worker-arg', '--delay-ms', '--worker-arg', '100', '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    const folder = (await c.waitFor(/local workers read snapshots from files in (\S+)/))[1]!;
    const dParams = 784 * 16 + 16 + 16 + 1;
    const gParams = 8 * 16 + 16 + 16 * 784 + 784;
    const fields = (t: Record<string, unknown>) => ({
      step: t.step,
      phase: t.phase,
      shard: t.shard,
      lossSum: 1,
      dRealSum: 1,
      dFakeSum: 1,
      computeMs: 1,
      cpuMs: 1,
    });
    const closeOf = async (shared: string | null, act: (client: RawClient, task: Record<string, unknown>, workerId: string) => void) => {
      const client = new RawClient(url);
      const welcome = await client.handshake(shared);
      const task = await client.next('task');
      act(client, task, welcome.workerId as string);
      return client.closed;
    };
    const writeResult = (name: string, values: Float32Array) => writeFileSync(join(folder, name), values);
    const size = (t: Record<string, unknown>) => (t.phase === 'D' ? dParams : gParams);
    // Not started with the folder: a resultFile is not for it to send.
    expect((await closeOf(null, (cl, t, id) => cl.send({ type: 'resultFile', ...fields(t), file: `r-${id}-1.f32` }))).code).toBe(4008);
    // Another worker's name, a file that is not there, a wrong length, more bytes than any gradient, a NaN.
    expect((await closeOf(folder, (cl, t) => cl.send({ type: 'resultFile', ...fields(t), file: 'r-w1-1.f32' }))).code).toBe(4002);
    expect((await closeOf(folder, (cl, t, id) => cl.send({ type: 'resultFile', ...fields(t), file: `r-${id}-404.f32` }))).code).toBe(4002);
    for (const [values, code] of [
      [(t: Record<string, unknown>) => new Float32Array(size(t) - 1), 4006],
      [() => new Float32Array(Math.max(dParams, gParams) + 1), 4006],
      [(t: Record<string, unknown>) => new Float32Array(size(t)).fill(Number.NaN), 4007],
    ] as const) {
      const closed = await closeOf(folder, (cl, t, id) => {
        writeResult(`r-${id}-1.f32`, values(t));
        cl.send({ type: 'resultFile', ...fields(t), file: `r-${id}-1.f32` });
      });
      expect(closed.code).toBe(code);
    }
    expect((await c.exited).code).toBe(0);
    expect(readSummary(dir).weightsSha256).toBe(reference);
    expect(c.stderr).toMatch(/UNEXPECTED_MESSAGE: resultFile from a worker not reading the shared folder/);
    expect(c.stderr).toMatch(/BAD_FIELD: resultFile.file r-w1-1.f32 is not one of w\d+'s/);
    expect(c.stderr).toMatch(/BAD_FIELD: resultFile r-w\d+-404.f32 cannot be read: ENOENT/);
    expect(c.stderr).toMatch(/BAD_GRADIENT_LENGTH: resultFile r-w\d+-1.f32 holds \d+ bytes, more than any gradient of this model/);
    expect(existsSync(folder)).toBe(false);
  });

  it('fuzz: thousands of mutated valid frames on many connections; training still ends with the undisturbed hash', async () => {
    const dir = runDir();
    const c = startCoordinator([...ARGS, '--workers', '0', '--run-dir', dir]);
    const url = await coordinatorUrl(c);
    startWorker(url, ['--name', 'honest', '--delay-ms', '40']);
    await c.waitFor(/honest@.* joined/);
    const seeds = [
      encodeMessage({ type: 'hello', protocol: PROTOCOL_VERSION, worker: { name: 'f', host: 'h', pid: 1, backend: 'b' }, snapshotDir: null }),
      encodeMessage({ type: 'ready', configHash: 'a'.repeat(64), datasetFingerprint: 'b'.repeat(64) }),
      encodeMessage({
        type: 'result',
        step: 0,
        phase: 'G',
        shard: 1,
        gradient: new Float32Array(64).fill(0.5),
        lossSum: 1,
        dRealSum: 0,
        dFakeSum: 1,
        computeMs: 2,
        cpuMs: 2,
      }),
      encodeMessage({ type: 'error', code: 'X', message: 'y' }),
    ];
    let state = 42;
    const rand = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    let sent = 0;
    const codes = new Map<number, number>();
    for (let conn = 0; conn < 200; conn++) {
      const client = new RawClient(url);
      await client.opened;
      // Up to 15 mutated frames per connection, until the coordinator closes it.
      for (let f = 0; f < 15 && client.ws.readyState === client.ws.OPEN; f++) {
        const frame = Uint8Array.from(seeds[Math.floor(rand() * seeds.length)]!);
        const flips = 1 + Math.floor(rand() * 6);
        for (let i = 0; i < flips; i++) frame[Math.floor(rand() * frame.length)] = Math.floor(rand() * 256);
        client.sendRaw(rand() < 0.15 ? frame.subarray(0, Math.floor(rand() * frame.length)) : frame);
        sent++;
        await new Promise((r) => setImmediate(r));
      }
      client.ws.close();
      const { code } = await client.closed;
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(sent).toBeGreaterThan(1000);
    expect([...codes.keys()].some((code) => code >= 4000)).toBe(true);
    expect((await c.exited).code).toBe(0);
    expect(readSummary(dir).weightsSha256).toBe(reference);
  });

  it('a worker with different MNIST files is turned away with DATASET_MISMATCH on both sides', async () => {
    const altered = join(tmp.path, 'mnist-altered');
    mkdirSync(altered, { recursive: true });
    const src = defaultMnistDir();
    for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']) copyFileSync(join(src, f), join(altered, f));
    const labels = readFileSync(join(altered, 'train-labels-idx1-ubyte'));
    labels[8] = (labels[8]! + 1) % 10; // one label changed
    writeFileSync(join(altered, 'train-labels-idx1-ubyte'), labels);
    const c = startCoordinator([...ARGS, '--workers', '0', '--run-dir', runDir()]);
    const url = await coordinatorUrl(c);
    const w = startWorker(url, ['--data-dir', altered]);
    expect((await w.exited).code).toBe(3);
    expect(w.stderr).toMatch(/DATASET_MISMATCH: local MNIST .* has fingerprint [0-9a-f]{12}, the coordinator's is [0-9a-f]{12}/);
    await c.waitFor(/closing worker .*DATASET_MISMATCH|reported DATASET_MISMATCH/);
  });
});
