/**
 * When the heartbeat may slow down: after `beatsToIdle` beats in a row that
 * ran on time with no request in flight. Any other beat ends the idle pace
 * at once. Pure: the heartbeat feeds it one verdict per beat.
 */
export class IdleGate {
  private quietBeats = 0;
  private idle = false;

  constructor(private readonly beatsToIdle: number) {}

  /** This beat's verdict (on time and quiet); returns whether the pace is idle from now on. */
  beat(quietOnTime: boolean): boolean {
    if (!quietOnTime) {
      this.reset();
      return false;
    }
    if (!this.idle && ++this.quietBeats >= this.beatsToIdle) this.idle = true;
    return this.idle;
  }

  /** A request arrived: busy until enough quiet beats again. */
  reset(): void {
    this.quietBeats = 0;
    this.idle = false;
  }
}
