import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { checkImageArguments } from './cli-check.js';

// The manifests are validated, not run: no Kubernetes cluster runs here (docs/cluster.md).
const dir = fileURLToPath(new URL('../../../deploy/kubernetes', import.meta.url));

interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
  readonly spec: Record<string, unknown>;
}

/** The kustomization rendered by kubectl's kustomize (`kubectl kustomize`). */
function render(): K8sObject[] {
  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (kubectl.error) throw new Error(`kubectl is needed to render ${dir} (Debian: apt-get install kubernetes-client)`);
  const yaml = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  return parseAllDocuments(yaml).map((d) => d.toJSON() as K8sObject);
}

const MODELS: Record<string, { validate(): void } & (new (o: never) => { validate(): void })> = {
  'v1/Service': Service as never,
  'apps/v1/StatefulSet': StatefulSet as never,
  'apps/v1/Deployment': Deployment as never,
};

type Container = {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: { resourceFieldRef?: { resource: string } } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  livenessProbe?: { httpGet?: { path: string } };
  readinessProbe?: { httpGet?: { path: string } };
  volumeMounts?: { name: string; mountPath: string }[];
};
type PodSpec = { containers: Container[]; securityContext?: Record<string, unknown>; volumes?: { name: string; secret?: { secretName: string } }[] };
const podSpec = (o: K8sObject) => (o.spec.template as { spec: PodSpec }).spec;

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  const objects = render();
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);

  it('render to a Service, a StatefulSet of one coordinator with a volume claim and a Deployment of workers, each valid against the schema', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Deployment/distgan-worker',
      'Service/distgan-coordinator',
      'StatefulSet/distgan-coordinator',
    ]);
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `${o.apiVersion} ${o.kind}`).toBeDefined();
      expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
      expect(o.metadata.labels?.['app.kubernetes.io/part-of']).toBe('distgan');
    }
    const coordinator = byKind('StatefulSet')[0]!;
    expect(coordinator.spec.replicas).toBe(1);
    expect((coordinator.spec.volumeClaimTemplates as { metadata: { name: string } }[])[0]!.metadata.name).toBe('runs');
  });

  it('schema validation catches a broken object (the check can fail)', () => {
    const broken = structuredClone(byKind('Deployment')[0]!) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = 'two';
    expect(() => new Deployment(broken as never).validate()).toThrow(/replicas must be integer/);
  });

  it('runs each container with a command line the project’s own parser accepts, the token from the Secret', () => {
    for (const o of [...byKind('StatefulSet'), ...byKind('Deployment')]) {
      const pod = podSpec(o);
      for (const c of pod.containers) {
        expect(() => checkImageArguments(c.args), `${o.metadata.name}/${c.name}`).not.toThrow();
        const tokenFile = c.args.find((a) => a.startsWith('--token-file='))!.slice('--token-file='.length);
        const mount = c.volumeMounts!.find((m) => tokenFile.startsWith(`${m.mountPath}/`))!;
        expect(pod.volumes!.find((v) => v.name === mount.name)?.secret?.secretName).toBe('distgan-token');
      }
    }
    expect(() => checkImageArguments(['worker', '--connect=ws://x:8080', '--bogus'])).toThrow(/unknown option '--bogus'/);
    expect(() => checkImageArguments(['worker'])).toThrow(/required option '--connect <url>' not specified/);
  });

  it('sets requests and limits, a restricted security context, /healthz probes, and worker thread pools from the CPU limit', () => {
    for (const o of [...byKind('StatefulSet'), ...byKind('Deployment')]) {
      const pod = podSpec(o);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of pod.containers) {
        expect(Object.keys(c.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
        expect(Object.keys(c.resources?.limits ?? {}).sort()).toEqual(['cpu', 'memory']);
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        // TensorFlow's graph files go to /tmp: a writable emptyDir under a read-only root.
        expect(c.volumeMounts!.some((m) => m.mountPath === '/tmp')).toBe(true);
      }
    }
    const coordinator = podSpec(byKind('StatefulSet')[0]!).containers[0]!;
    expect(coordinator.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(coordinator.readinessProbe?.httpGet?.path).toBe('/healthz');
    expect(coordinator.args).toEqual(expect.arrayContaining(['--start-or-resume', '--host=0.0.0.0', '--workers=0']));
    const worker = podSpec(byKind('Deployment')[0]!).containers[0]!;
    expect(worker.env!.find((e) => e.name === 'TF_NUM_INTRAOP_THREADS')?.valueFrom?.resourceFieldRef?.resource).toBe('limits.cpu');
  });
});

describe('Docker Swarm stack (deploy/swarm/stack.yml)', () => {
  it("runs each service with a command line the project's own parser accepts, with the variables' defaults", async () => {
    const { substituteVariables } = await import('./cli-check.js');
    const text = readFileSync(fileURLToPath(new URL('../../../deploy/swarm/stack.yml', import.meta.url)), 'utf8');
    for (const env of [{}, { DISTGAN_PRESET: 'tiny', DISTGAN_STEPS: '300', DISTGAN_SHARDS: '4' }]) {
      const stack = parse(substituteVariables(text, env)) as { services: Record<string, { command: string[] }> };
      expect(Object.keys(stack.services).sort()).toEqual(['coordinator', 'worker']);
      for (const service of Object.values(stack.services)) expect(() => checkImageArguments(service.command)).not.toThrow();
    }
  });
});
