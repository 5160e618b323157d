/**
 * The memory the main thread and the watchdog worker share. The main thread
 * writes the heartbeat; the worker only reads it, plus two slots of its own.
 * Plain reads of the float slots are fine: a torn read would only shift one
 * staleness check by one heartbeat.
 */
// An even count: the float slots after them must start on an 8-byte boundary.
const I32_SLOTS = 8;
const F64_SLOTS = 2;

const BEAT = 0; // heartbeat count: each value is one "window" between two turns of the loop
const CAPTURE_ALLOWED = 1; // 0 while a debugger is attached, during startup grace, or when captures are off
const CAPTURING = 2; // the window the worker is capturing (set before Debugger.pause)
const DISCONNECTED = 3; // set by the worker once its inspector session is closed
const CLOSE_REQUESTED = 4; // set by the main thread when the worker must close (it may be asleep in Atomics.wait)
const IDLE = 5; // 1 while the heartbeat runs at its idle period (no request in flight, beats on time)
const MISSED = 6; // the last stall window the worker did not watch (it was not run either, or it lost the race to the beat)
const PARKED = 7; // 1 while a pool worker's loop is parked by its pool between tasks (piscina waits in Atomics.wait): not a stall

const LAST_BEAT_AT = 0; // epoch ms (timeOrigin + now) of the last heartbeat
const DUE_IN_MS = 1; // heartbeat period

export class SharedState {
  readonly buffer: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;

  constructor(buffer = new SharedArrayBuffer(I32_SLOTS * 4 + F64_SLOTS * 8)) {
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer, 0, I32_SLOTS);
    this.f64 = new Float64Array(buffer, I32_SLOTS * 4, F64_SLOTS);
  }

  beat(atEpochMs: number): number {
    this.f64[LAST_BEAT_AT] = atEpochMs;
    return Atomics.add(this.i32, BEAT, 1) + 1;
  }

  get window(): number {
    return Atomics.load(this.i32, BEAT);
  }

  get lastBeatAt(): number {
    return this.f64[LAST_BEAT_AT]!;
  }

  get periodMs(): number {
    return this.f64[DUE_IN_MS]!;
  }

  set periodMs(value: number) {
    this.f64[DUE_IN_MS] = value;
  }

  get captureAllowed(): boolean {
    return Atomics.load(this.i32, CAPTURE_ALLOWED) === 1;
  }

  set captureAllowed(value: boolean) {
    Atomics.store(this.i32, CAPTURE_ALLOWED, value ? 1 : 0);
  }

  get capturing(): number {
    return Atomics.load(this.i32, CAPTURING);
  }

  set capturing(window: number) {
    Atomics.store(this.i32, CAPTURING, window);
  }

  /**
   * Worker side: sleeps on the heartbeat word for at most `timeoutMs`. The
   * main thread never notifies it per beat (each wake-up of a thread costs
   * 120–400 µs of CPU here); only `requestClose` ends the wait early.
   */
  sleep(timeoutMs: number): 'ok' | 'not-equal' | 'timed-out' {
    return Atomics.wait(this.i32, BEAT, Atomics.load(this.i32, BEAT), timeoutMs);
  }

  /** Main side: wakes a worker asleep in `sleep` to turn its loop once (a message is waiting for it). */
  poke(): void {
    Atomics.notify(this.i32, BEAT);
  }

  /** 1 while the main loop is idle and the heartbeat runs at its idle period: the worker's own timers back off too. */
  get idle(): boolean {
    return Atomics.load(this.i32, IDLE) === 1;
  }

  set idle(value: boolean) {
    Atomics.store(this.i32, IDLE, value ? 1 : 0);
  }

  /**
   * 1 while the thread's owner holds its loop on purpose between tasks
   * (piscina's workers wait for the next task in `Atomics.wait`, so their
   * loop turns only while a task runs): the watchdog does not look then.
   */
  get parked(): boolean {
    return Atomics.load(this.i32, PARKED) === 1;
  }

  set parked(value: boolean) {
    Atomics.store(this.i32, PARKED, value ? 1 : 0);
  }

  /**
   * Main side: the heartbeat changed period between two beats (it left its
   * idle period when a request arrived). The staleness clock restarts from
   * `atEpochMs` with the new period, and a worker asleep until the old,
   * later deadline is woken to look again: a stall that begins with this
   * request must be caught while it lasts.
   */
  rebase(atEpochMs: number, periodMs: number): void {
    this.f64[LAST_BEAT_AT] = atEpochMs;
    this.f64[DUE_IN_MS] = periodMs;
    Atomics.notify(this.i32, BEAT);
  }

  /**
   * Main side, once per stall the worker was not watching: asks it for the
   * main thread's clock over that window (from its last reading before it),
   * waking it if it sleeps in `sleep`. A host that throttles the whole
   * process holds the worker too, and the loop may turn before it looks.
   */
  markMissed(window: number): void {
    Atomics.store(this.i32, MISSED, window);
    Atomics.notify(this.i32, BEAT);
  }

  get missed(): number {
    return Atomics.load(this.i32, MISSED);
  }

  /** Main side: asks the worker to close, waking it if it sleeps in `sleep`. */
  requestClose(): void {
    Atomics.store(this.i32, CLOSE_REQUESTED, 1);
    Atomics.notify(this.i32, BEAT);
  }

  get closeRequested(): boolean {
    return Atomics.load(this.i32, CLOSE_REQUESTED) === 1;
  }

  /** Worker side: the inspector session is closed. Wakes a main thread waiting in `awaitDisconnect`. */
  markDisconnected(): void {
    Atomics.store(this.i32, DISCONNECTED, 1);
    Atomics.notify(this.i32, DISCONNECTED);
  }

  /** Main side, at process exit only: blocks until the worker's session is closed, at most `timeoutMs`. */
  awaitDisconnect(timeoutMs: number): void {
    Atomics.wait(this.i32, DISCONNECTED, 0, timeoutMs);
  }

  /** Milliseconds from `nowEpochMs` until the heartbeat is `afterMs` late (negative once it is). */
  msUntilLate(nowEpochMs: number, afterMs: number): number {
    return this.lastBeatAt + this.periodMs + afterMs - nowEpochMs;
  }

  /** How long the loop has been late right now, in ms (0 while it turns). */
  blockedForMs(nowEpochMs: number): number {
    const late = nowEpochMs - this.lastBeatAt - this.periodMs;
    return late > 0 ? late : 0;
  }
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across threads. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}
