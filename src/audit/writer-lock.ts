import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

/** What a lock file says about its holder. */
interface Holder {
  readonly pid: number;
  readonly host: string;
  /** The holder's start time as /proc/PID/stat counts it (Linux), so a reused pid is not mistaken for the holder. */
  readonly started: string | null;
  readonly token: string;
}

/** The holder touches the lock this often; a lock untouched for STALE_MS belongs to nobody. */
const HEARTBEAT_MS = 10_000;
const STALE_MS = 60_000;

/** Tokens of the locks this process holds: a lock naming our pid is ours only if listed here. */
const heldHere = new Set<string>();

export class WriterLockError extends Error {
  override readonly name = 'WriterLockError';
}

/**
 * One writer per file audit log. The chain's head lives in the file's last line, read once when
 * a writer starts: a second process appending to the same file would chain onto a head the
 * first has already moved past and fork the chain (`audit verify` then reports tampering that
 * never happened). So a writer first creates `<log>.lock` with O_EXCL, naming itself.
 *
 * A lock left by a process that died (SIGKILL, OOM) must not block the next start forever, and
 * Node has no flock(2): a lock is stale when its holder is on this host and no longer runs (pid
 * gone, or the pid now belongs to a process started at another time, or it is our own pid: a
 * restarted container), or when nobody has touched it for STALE_MS (a holder on another host, a
 * pod rescheduled onto the same volume). The holder touches it every HEARTBEAT_MS. Taking over a
 * stale lock goes through a second O_EXCL file, so two starting processes cannot both take it.
 */
export class WriterLock {
  private heartbeat: NodeJS.Timeout | undefined;
  private held = false;
  private readonly token = `${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}`;

  constructor(
    readonly path: string,
    /** What the log is, for the messages ("the audit log /data/audit.jsonl"). */
    private readonly what: string,
  ) {}

  /** Takes the lock or throws WriterLockError naming the holder. */
  acquire(): void {
    if (this.held) return;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    if (!this.create(this.path)) {
      const holder = readHolder(this.path);
      if (!isStale(this.path, holder)) throw this.heldBy(holder);
      this.takeOver(holder);
    }
    this.held = true;
    heldHere.add(this.token);
    this.heartbeat = setInterval(() => this.touch(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Still ours: a lock file removed or replaced by hand means another writer may be running. */
  check(): void {
    if (!this.held) return;
    if (readHolder(this.path)?.token !== this.token) {
      throw new WriterLockError(`${this.path} no longer names this process: another process may be writing ${this.what}; refusing to append (restart countersign once only one runs)`);
    }
  }

  release(): void {
    if (!this.held) return;
    clearInterval(this.heartbeat);
    this.held = false;
    heldHere.delete(this.token);
    try {
      if (readHolder(this.path)?.token === this.token) unlinkSync(this.path);
    } catch {
      // Already gone: nothing to release.
    }
  }

  private create(path: string): boolean {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      const holder: Holder = { pid: process.pid, host: hostname(), started: startTimeOf(process.pid), token: this.token };
      writeSync(fd, `${JSON.stringify(holder)}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  /** Replaces a stale lock, one process at a time (the `.takeover` file is the mutex). */
  private takeOver(stale: Holder | undefined): void {
    const mutex = `${this.path}.takeover`;
    if (!this.create(mutex)) {
      const other = readHolder(mutex);
      if (!isStale(mutex, other)) {
        throw new WriterLockError(`another process is taking over the stale lock ${this.path} for ${this.what}; only one process may write it. If none is starting, delete ${mutex}.`);
      }
      unlinkSync(mutex);
      if (!this.create(mutex)) throw new WriterLockError(`another process is taking over the stale lock ${this.path} for ${this.what}; only one process may write it.`);
    }
    try {
      const now = readHolder(this.path);
      // Someone else took it between our look and the mutex: theirs now, and alive.
      if (now !== undefined && now.token !== stale?.token && !isStale(this.path, now)) throw this.heldBy(now);
      try {
        unlinkSync(this.path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      if (!this.create(this.path)) throw new WriterLockError(`${this.path} appeared while taking it over: another process writes ${this.what}.`);
    } finally {
      unlinkSync(mutex);
    }
  }

  private touch(): void {
    try {
      const now = new Date();
      utimesSync(this.path, now, now);
    } catch {
      // check() reports a lock that is gone, on the next append.
    }
  }

  private heldBy(holder: Holder | undefined): WriterLockError {
    const who = holder === undefined ? 'another process' : `process ${holder.pid} on ${holder.host}`;
    return new WriterLockError(
      `${this.what} is already being written by ${who} (lock ${this.path}). One process writes a file audit log: ` +
        'stop the other countersign, give this one its own COUNTERSIGN_DATA_DIR, or run replicas with COUNTERSIGN_REDIS_URL and COUNTERSIGN_AUDIT_SINK=redis.',
    );
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string' || typeof parsed.token !== 'string') return undefined;
    return { pid: parsed.pid, host: parsed.host, started: typeof parsed.started === 'string' ? parsed.started : null, token: parsed.token };
  } catch {
    // Missing, half-written or not ours: treated as no holder (staleness then goes by its age).
    return undefined;
  }
}

function isStale(path: string, holder: Holder | undefined): boolean {
  let age: number;
  try {
    age = Date.now() - statSync(path).mtimeMs;
  } catch {
    return true;
  }
  if (holder === undefined) return age > STALE_MS;
  // Another host's process cannot be looked up from here: only its heartbeat tells.
  if (holder.host !== hostname()) return age > STALE_MS;
  // Our own pid: another writer in this process, or a previous process whose pid we got (a
  // restarted container's process is often pid 1 again).
  if (holder.pid === process.pid) return !heldHere.has(holder.token);
  if (!alive(holder.pid)) return true;
  const started = startTimeOf(holder.pid);
  return holder.started !== null && started !== null && started !== holder.started;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A killed process nobody has reaped yet (a container's PID 1 may never reap) is a zombie: gone.
    return !/^[ZX]/.test(procStat(pid)?.[0] ?? '');
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot); null off Linux. */
function startTimeOf(pid: number): string | null {
  return procStat(pid)?.[19] ?? null;
}

/** /proc/PID/stat from field 3 (state) on; undefined off Linux or when there is no such process. */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
