import { watch, type FSWatcher } from 'node:fs';
import type { AuditEmitter } from '../audit/emitter.js';
import type { Logger } from '../audit/logger.js';
import { compilePolicySet, type CompiledPolicySet } from './compile.js';
import { loadPolicyDir, PolicyLoadError } from './load.js';

export interface PolicyStatus {
  readonly hash: string;
  readonly files: number;
  readonly rules: number;
  readonly loadedAt: string;
  /** Why the newest files were rejected; the set above is still the one in force. */
  readonly lastError?: { readonly at: string; readonly message: string };
}

/** How long the directory must be quiet before a reload: editors and ConfigMap swaps write in bursts. */
const SETTLE_MS = 200;

/**
 * The policy set in force, reloaded when the directory changes. A reload validates the whole
 * new set and swaps it in atomically; a bad set keeps the last good one, logs why, and shows
 * in `status` (for /readyz). Every load is audited with the set's content hash.
 */
export class PolicyStore {
  private current: CompiledPolicySet;
  private state: PolicyStatus;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    private readonly audit: AuditEmitter = (event) => logger.info(event, event.event),
    private readonly onLoad: (ok: boolean) => void = () => undefined,
  ) {
    this.current = compilePolicySet(loadPolicyDir(dir));
    this.state = this.describe();
    this.logLoaded('start');
  }

  /** The set in force; callers take it once per request. */
  get(): CompiledPolicySet {
    return this.current;
  }

  get status(): PolicyStatus {
    return this.state;
  }

  /**
   * Watches the directory itself, not the files: Kubernetes updates a ConfigMap volume by
   * swapping the `..data` symlink, which shows up as a change to the directory.
   */
  watch(): void {
    this.watcher = watch(this.dir, { persistent: false }, () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), SETTLE_MS);
    });
    this.watcher.on('error', (error) => this.logger.error({ event: 'policy.watch_failed', error: error.message }, 'policy directory watch failed'));
  }

  /** Loads the directory again; returns whether a new set is in force. */
  reload(): boolean {
    try {
      const next = compilePolicySet(loadPolicyDir(this.dir));
      if (next.hash === this.current.hash) return false;
      this.current = next;
      this.state = this.describe();
      this.logLoaded('reload');
      return true;
    } catch (error) {
      const message = error instanceof PolicyLoadError || error instanceof Error ? error.message : String(error);
      this.state = { ...this.state, lastError: { at: new Date().toISOString(), message } };
      this.audit({ event: 'policy.rejected', keptPolicyHash: this.current.hash, error: message });
      this.onLoad(false);
      return false;
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }

  private describe(): PolicyStatus {
    return {
      hash: this.current.hash,
      files: this.current.files.length,
      rules: this.current.awsRules.length + this.current.hostRules.length,
      loadedAt: new Date().toISOString(),
    };
  }

  private logLoaded(trigger: 'start' | 'reload'): void {
    this.audit({ event: 'policy.loaded', trigger, policyHash: this.state.hash, files: this.state.files, rules: this.state.rules });
    this.onLoad(true);
  }
}
