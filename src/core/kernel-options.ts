/**
 * What the kernel reads of the resolved options (src/options.ts resolves and
 * validates them all; the kernel sees only its own part, so it depends on no
 * exporter's or shedder's option types).
 */
export interface KernelOptions {
  readonly thresholdMs: number;
  /** Heartbeat timer period, derived from thresholdMs. */
  readonly heartbeatMs: number;
  /** Heartbeat period while no request is in flight and beats run on time. */
  readonly idleHeartbeatMs: number;
  /** How late the heartbeat must be before the watchdog captures a stack. */
  readonly captureAfterMs: number;
  readonly captureStacks: boolean;
  readonly maxStackFrames: number;
  /** Capture probes per stall at most (a long stall is probed again every half threshold). */
  readonly maxSamplesPerStall: number;
  readonly maxRoutes: number;
  readonly startupGraceMs: number;
  readonly blameAfterResponseMs: number;
  readonly precise: boolean;
  readonly expectedBlockingRoutes: readonly (string | RegExp)[];
  readonly onError: ((error: Error) => void) | undefined;
  readonly logger: { error(obj: object, msg?: string): void } | undefined;
}
