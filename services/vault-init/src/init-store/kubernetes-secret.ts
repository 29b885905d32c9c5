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
 */
import type { CoreV1Api, KubeConfig, V1Secret } from '@kubernetes/client-node';
import { InitMaterialError, VaultInitError, EXIT } from '../errors.js';
import { parseInitMaterial, registerInitMaterial, type InitMaterial, type InitStore } from './index.js';

/** The Secret's key holding the material: the same JSON as the file backend's init.json. */
export const INIT_SECRET_KEY = 'init.json';

export interface KubernetesSecretInitStoreOptions {
  name: string;
  namespace: string;
  kubeConfig?: KubeConfig;
}

/** A Kubernetes API failure the user must fix (RBAC, the API unreachable): exit code "unreachable". */
export class KubernetesApiError extends VaultInitError {
  constructor(message: string, cause?: unknown) {
    super(EXIT.unreachable, message, { cause });
  }
}

/** The HTTP status of a Kubernetes API error (the client's ApiException carries it as `code`). */
function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

export class KubernetesSecretInitStore implements InitStore {
  private client?: Promise<CoreV1Api>;
  readonly name: string;
  readonly namespace: string;

  constructor(private readonly options: KubernetesSecretInitStoreOptions) {
    this.name = options.name;
    this.namespace = options.namespace;
  }

  private api(): Promise<CoreV1Api> {
    this.client ??= import('@kubernetes/client-node').then((k8s) => {
      let kc = this.options.kubeConfig;
      if (!kc) {
        kc = new k8s.KubeConfig();
        kc.loadFromCluster();
      }
      return kc.makeApiClient(k8s.CoreV1Api);
    });
    return this.client;
  }

  get location(): string {
    return `Kubernetes Secret ${this.namespace}/${this.name} (key ${INIT_SECRET_KEY})`;
  }

  /** The Secret, or undefined when there is none. */
  private async get(): Promise<V1Secret | undefined> {
    try {
      return await (await this.api()).readNamespacedSecret({ name: this.name, namespace: this.namespace });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw this.apiError('read', err);
    }
  }

  private apiError(verb: string, err: unknown): VaultInitError {
    const code = statusOf(err);
    const why =
      code === 403
        ? `forbidden: vault-init's ServiceAccount needs get/update on secrets/${this.name} and create on secrets in ${this.namespace} (the chart's Role grants exactly that)`
        : code !== undefined
          ? `the Kubernetes API answered ${code}`
          : `the Kubernetes API is unreachable (${(err as Error)?.message ?? String(err)})`;
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
      const api = await this.api();
      if (secret) {
        await api.replaceNamespacedSecret({
          name: this.name,
          namespace: this.namespace,
          body: secret,
          dryRun: 'All',
        });
      } else {
        await api.createNamespacedSecret({ namespace: this.namespace, body: this.desired({}), dryRun: 'All' });
      }
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
    const data = { [INIT_SECRET_KEY]: Buffer.from(`${JSON.stringify(material, null, 2)}\n`).toString('base64') };
    try {
      const secret = await this.get();
      const api = await this.api();
      if (secret) {
        // resourceVersion from the read: a concurrent writer makes this fail (409) instead of losing keys.
        await api.replaceNamespacedSecret({
          name: this.name,
          namespace: this.namespace,
          body: { ...this.desired(data), metadata: { ...this.desired(data).metadata, ...pickVersion(secret) } },
        });
      } else {
        await api.createNamespacedSecret({ namespace: this.namespace, body: this.desired(data) });
      }
    } catch (err) {
      const cause = err instanceof VaultInitError ? err : this.apiError('write', err);
      throw new VaultInitError(
        EXIT.initMaterial,
        `Vault was just initialized but its keys could not be saved: ${cause.message} ` +
          'They exist nowhere else: keep this process output, fix the cause, and restore them into the Secret by hand; ' +
          'otherwise `make k8s-clean` (or deleting the Vault volumes) is the only way out.',
        { cause: err },
      );
    }
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

function pickVersion(secret: V1Secret): { resourceVersion?: string } {
  return secret.metadata?.resourceVersion ? { resourceVersion: secret.metadata.resourceVersion } : {};
}
