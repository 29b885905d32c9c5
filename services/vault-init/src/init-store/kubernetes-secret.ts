/**
 * The Kubernetes backend of the init store: the init material as key `init.json` of one Secret, read and
 * updated by name (RBAC: `get`/`update` on that name only). Kubernetes cannot limit `create` to a name, so
 * vault-init holds namespace-wide `create` on Secrets for the one first write; it never lists, reads or
 * changes any other Secret. The Secret carries `helm.sh/resource-policy: keep` and is not part of a Helm
 * release, so `helm uninstall` leaves it (and with it the only copy of the unseal keys) in place.
 *
 * Where the cluster is: the pod's own service account (KubeConfig.loadFromCluster), unless a KubeConfig is
 * given (tests, a vault-init run outside the cluster). The client library is loaded on first use: it needs
 * Node >= 22 (its HTTP client does), and compose/native runs of vault-init never need it.
 *
 * Every API call has a deadline (KUBERNETES_API_TIMEOUT_MS): the client library sets none, and its HTTP client
 * (undici) waits 5 minutes for the answer of an API server that accepted the connection.
 */
import type { ConfigurationOptions, CoreV1Api, KubeConfig, V1Secret } from '@kubernetes/client-node';
import { InitMaterialError, InitMaterialNotSavedError, VaultInitError, EXIT } from '../errors.js';
import { parseInitMaterial, registerInitMaterial, type InitMaterial, type InitStore } from './index.js';

/** The Secret's key holding the material: the same JSON as the file backend's init.json. */
export const INIT_SECRET_KEY = 'init.json';

/**
 * How long one Kubernetes API call may take, in ms: each read, dry run and write of the Secret on its own. The API
 * server answers them in milliseconds, within a few seconds when loaded; one that accepts the connection and never
 * answers would otherwise hold vault-init with nothing said for undici's 5 minutes. 35 s is longer than a single
 * admission webhook may take (`timeoutSeconds` is at most 30: a webhook on Secrets that times out and fails open makes
 * a write that long, and then it succeeds), and shorter than the API server's own request timeout (60 s by default),
 * after which it would have answered itself. A stop's last attempt to save new keys is a read and a write, up to
 * 70 s: the chart gives vault-init's pod 80 s (terminationGracePeriodSeconds; 30 s by default elsewhere, where the
 * kubelet's SIGKILL can come first and the next start reports what it finds).
 * A constant, as the Vault client's timeouts are (packages/common/src/vault/timeouts.ts).
 */
export const KUBERNETES_API_TIMEOUT_MS = 35_000;

export interface KubernetesSecretInitStoreOptions {
  name: string;
  namespace: string;
  kubeConfig?: KubeConfig;
  /** Per-call deadline in ms (default KUBERNETES_API_TIMEOUT_MS): tests shorten it. */
  requestTimeoutMs?: number;
}

/** A Kubernetes API failure the user must fix (RBAC, the API unreachable): exit code "unreachable". */
export class KubernetesApiError extends VaultInitError {
  constructor(message: string, cause?: unknown) {
    super(EXIT.unreachable, message, { cause });
  }
}

/** A call that outlived its deadline: its request was aborted, its connection closed. */
class NoAnswerError extends Error {
  constructor(ms: number, cause: unknown) {
    super(`no answer within ${ms / 1000} s`, { cause });
    this.name = 'NoAnswerError';
  }
}

/** The HTTP status of a Kubernetes API error (the client's ApiException carries it as `code`). */
function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

interface Client {
  api: CoreV1Api;
  /** Per-call options that hand `signal` to the request, the client's own middleware kept. */
  withSignal(signal: AbortSignal): ConfigurationOptions;
}

export class KubernetesSecretInitStore implements InitStore {
  private client?: Promise<Client>;
  /** The API server's address, for messages: known once the client is made. */
  private server?: string;
  readonly name: string;
  private readonly timeoutMs: number;
  /** A create or replace of the keys went unanswered: the Secret may hold them whatever later attempts meet. */
  private writeUnanswered = false;
  readonly namespace: string;

  constructor(private readonly options: KubernetesSecretInitStoreOptions) {
    this.name = options.name;
    this.timeoutMs = options.requestTimeoutMs ?? KUBERNETES_API_TIMEOUT_MS;
    this.namespace = options.namespace;
  }

  private connect(): Promise<Client> {
    this.client ??= import('@kubernetes/client-node').then((k8s) => {
      let kc = this.options.kubeConfig;
      if (!kc) {
        kc = new k8s.KubeConfig();
        kc.loadFromCluster();
      }
      this.server = kc.getCurrentCluster()?.server;
      return {
        api: kc.makeApiClient(k8s.CoreV1Api),
        // The signal reaches undici's fetch through the request context, so an abort ends the request itself and
        // closes its connection. Per-call middleware replaces the client's own by default (the one that sets
        // User-Agent): appended, both run.
        withSignal: (signal) => ({
          middleware: [
            {
              pre: (context) => {
                context.setSignal(signal);
                return new k8s.Observable(Promise.resolve(context));
              },
              post: (context) => new k8s.Observable(Promise.resolve(context)),
            },
          ],
          middlewareMergeStrategy: 'append',
        }),
      };
    });
    return this.client;
  }

  /**
   * One API call, aborted at its deadline (requestTimeoutMs, from the request to the end of the answer's body).
   * @throws NoAnswerError past the deadline, whatever the abort surfaced as; else the client's error
   */
  private async call<T>(send: (api: CoreV1Api, options: ConfigurationOptions) => Promise<T>): Promise<T> {
    const { api, withSignal } = await this.connect();
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.timeoutMs);
    try {
      return await send(api, withSignal(deadline.signal));
    } catch (err) {
      throw deadline.signal.aborted ? new NoAnswerError(this.timeoutMs, err) : err;
    } finally {
      clearTimeout(timer);
    }
  }

  get location(): string {
    return `Kubernetes Secret ${this.namespace}/${this.name} (key ${INIT_SECRET_KEY})`;
  }

  /** The Secret, or undefined when there is none. */
  private async get(): Promise<V1Secret | undefined> {
    try {
      return await this.call((api, options) =>
        api.readNamespacedSecret({ name: this.name, namespace: this.namespace }, options),
      );
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw this.apiError('read', err);
    }
  }

  private apiError(verb: string, err: unknown): VaultInitError {
    const code = statusOf(err);
    const api = `the Kubernetes API${this.server ? ` at ${this.server}` : ''}`;
    const check =
      'check that the API server is up and that this pod can reach it ' +
      "(with the chart, networkPolicy.apiServer.cidr and .ports must allow vault-init's egress to it)";
    const why =
      code === 403
        ? `forbidden: vault-init's ServiceAccount needs get/update on secrets/${this.name} and create on secrets in ${this.namespace} (the chart's Role grants exactly that)`
        : code !== undefined
          ? `the Kubernetes API answered ${code}`
          : localFileError(err)
            ? `cannot read this pod's service account credentials (${reason(err)}): the pod needs its ServiceAccount token mounted (automountServiceAccountToken must not be false; the chart leaves it on)`
            : err instanceof NoAnswerError
              ? `${api} did not answer within ${this.timeoutMs / 1000} s; ${check}`
              : `${api} is unreachable (${reason(err)}); ${check}`;
    return new KubernetesApiError(`cannot ${verb} ${this.location}: ${why}.`, err);
  }

  async exists(): Promise<boolean> {
    const secret = await this.get();
    return secret?.data?.[INIT_SECRET_KEY] !== undefined;
  }

  async preflight(): Promise<void> {
    const secret = await this.get();
    // A dry run asks the API server the real question (RBAC and admission) without writing anything.
    try {
      await this.call((api, options) =>
        secret
          ? api.replaceNamespacedSecret(
              { name: this.name, namespace: this.namespace, body: secret, dryRun: 'All' },
              options,
            )
          : api.createNamespacedSecret({ namespace: this.namespace, body: this.desired({}), dryRun: 'All' }, options),
      );
    } catch (err) {
      throw this.apiError(`write (dry run) ${secret ? 'the existing' : 'a new'}`, err);
    }
  }

  async read(): Promise<InitMaterial> {
    const secret = await this.get();
    const encoded = secret?.data?.[INIT_SECRET_KEY];
    if (encoded === undefined) {
      throw new InitMaterialError(
        `Vault is initialized, but ${this.location} ${secret ? 'has no init material' : 'does not exist'}: ` +
          'without the unseal keys in it this Vault cannot be unsealed.',
        this.location,
      );
    }
    const text = Buffer.from(encoded, 'base64').toString('utf8');
    return parseInitMaterial(text, this.location);
  }

  async write(material: InitMaterial): Promise<void> {
    registerInitMaterial(material);
    const encoded = Buffer.from(`${JSON.stringify(material, null, 2)}\n`).toString('base64');
    let secret: V1Secret | undefined;
    try {
      secret = await this.get();
    } catch (err) {
      throw this.notSaved(err);
    }
    const held = secret?.data?.[INIT_SECRET_KEY];
    // An earlier attempt landed, answered or not: saved.
    if (held === encoded) return;
    // Someone else's init material (another vault-init, a restore): never overwritten, whatever becomes of ours.
    if (held !== undefined)
      throw this.notSaved(
        new KubernetesApiError(
          `${this.location} holds other init material, which vault-init will not overwrite: if it is not this ` +
            `Vault's, keep a copy and delete the Secret (\`kubectl -n ${this.namespace} get secret ${this.name} -o yaml ` +
            `> elsewhere.yaml\`, then \`kubectl -n ${this.namespace} delete secret ${this.name}\`).`,
          undefined,
        ),
      );
    const data = { [INIT_SECRET_KEY]: encoded };
    try {
      await this.call((api, options) =>
        secret
          ? // resourceVersion from the read: a concurrent writer makes this fail (409), and the next attempt sees it.
            api.replaceNamespacedSecret(
              {
                name: this.name,
                namespace: this.namespace,
                body: { ...this.desired(data), metadata: { ...this.desired(data).metadata, ...pickVersion(secret) } },
              },
              options,
            )
          : api.createNamespacedSecret({ namespace: this.namespace, body: this.desired(data) }, options),
      );
    } catch (err) {
      // The create or replace got no answer: the API server may have carried it out all the same.
      if (err instanceof NoAnswerError) this.writeUnanswered = true;
      throw this.notSaved(err);
    }
  }

  /**
   * Why the new keys are not saved: `reason` for the attempts vault-init keeps making, the message for when it is
   * stopped first. Once a write went unanswered, the message says the Secret may hold the keys all the same, and
   * how to tell, before anyone gives up on keys that are safe.
   */
  private notSaved(err: unknown): InitMaterialNotSavedError {
    const cause = err instanceof VaultInitError ? err : this.apiError('write', err);
    const unknown = this.writeUnanswered;
    return new InitMaterialNotSavedError(
      EXIT.initMaterial,
      `Vault was just initialized but its keys ${unknown ? 'may not have been' : 'could not be'} saved: ${cause.message} ` +
        (unknown
          ? `The API server may have stored them all the same: if \`kubectl -n ${this.namespace} get secret ${this.name}\` ` +
            `shows key ${INIT_SECRET_KEY}, nothing is lost and the next start unseals with it. If not, they exist nowhere else: `
          : 'They exist nowhere else: ') +
        'they are never in this output either (vault-init masks them), so this Vault cannot be unsealed again: fix the ' +
        'cause, then `make k8s-clean` (or delete the Vault volumes) and start again.',
      cause.message.replace(/\.$/, ''),
      { cause: err },
    );
  }

  /** The Secret as vault-init wants it: labelled for clean-up, kept by Helm, immutable never (it is updated). */
  private desired(data: Record<string, string>): V1Secret {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        labels: { 'app.kubernetes.io/component': 'vault-init-material', 'app.kubernetes.io/managed-by': 'vault-init' },
        annotations: { 'helm.sh/resource-policy': 'keep' },
      },
      data,
    };
  }
}

/** A file this process could not read (the service account's token or CA), anywhere in the cause chain. */
function localFileError(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, path } = e as { code?: unknown; path?: unknown };
    if ((code === 'ENOENT' || code === 'EACCES') && typeof path === 'string') return true;
  }
  return false;
}

/** An error's message, with its cause's: undici's fetch says only "fetch failed", its cause says why. */
function reason(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  const cause = (err as { cause?: { message?: unknown } })?.cause?.message;
  return typeof cause === 'string' && cause !== '' ? `${message}: ${cause}` : message;
}

function pickVersion(secret: V1Secret): { resourceVersion?: string } {
  return secret.metadata?.resourceVersion ? { resourceVersion: secret.metadata.resourceVersion } : {};
}
