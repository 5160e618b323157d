/**
 * The worker's side of advice: at a capture, read the source of the first
 * frames outside Node (their files: the watchdog runs without the Debugger
 * domain) and classify. Runs only at stall time, in the worker; the request
 * path never sees it. Scripts are cached by path, bounded in count and size,
 * since the same culprit stalls again.
 */
import { classifyPause, isNodeFrame, type FrameSource } from '../advice/classify';
import type { Advice } from '../contract/advice';
import type { StackFrame } from '../contract/frames';
import type { RawFrame } from '../contract/frames';

/**
 * A probe that lands later than this after being asked for waited for a
 * native call to return. JavaScript is interrupted within a few ms. A native call
 * long enough to be a stall by itself ends at least half a threshold after
 * the probe is asked for (the watchdog asks at `captureAfterMs`, half the
 * threshold), so half of `captureAfterMs` stays clear of both.
 */
export function promptPauseMs(captureAfterMs: number): number {
  return Math.min(25, captureAfterMs / 2);
}
/** Frames outside Node whose source is read: the classifier looks at no more. */
const FRAMES_WITH_SOURCE = 4;

type FetchSource = (scriptId: string) => Promise<string>;

export class ScriptSources {
  /** Insertion order is recency: a hit moves the script to the end. */
  private readonly scripts = new Map<string, string | null>();
  private chars = 0;

  constructor(
    private readonly fetch: FetchSource,
    private readonly maxScripts = 32,
    private readonly maxChars = 16_000_000,
    /** Bigger scripts (bundles) are not kept: no source evidence for them. */
    private readonly maxScriptChars = 4_000_000,
  ) {}

  async get(scriptId: string): Promise<string | undefined> {
    const cached = this.scripts.get(scriptId);
    if (cached !== undefined) {
      this.scripts.delete(scriptId);
      this.scripts.set(scriptId, cached);
      return cached ?? undefined;
    }
    let text: string | null;
    try {
      text = await this.fetch(scriptId);
    } catch {
      return undefined; // collected, or not a script we may read: no evidence, not an error
    }
    if (text.length > this.maxScriptChars) text = null;
    this.scripts.set(scriptId, text);
    this.chars += text?.length ?? 0;
    for (const [id, old] of this.scripts) {
      if (this.scripts.size <= this.maxScripts && this.chars <= this.maxChars) break;
      this.scripts.delete(id);
      this.chars -= old?.length ?? 0;
    }
    return text ?? undefined;
  }

  get size(): number {
    return this.scripts.size;
  }
}

/** Advice for one capture: `frames` as the probe gave them, `stack` as normalised from them (same order). */
export async function adviseOnPause(
  frames: readonly RawFrame[],
  stack: readonly StackFrame[],
  sources: ScriptSources,
  pauseLagMs: number,
  captureAfterMs: number,
): Promise<Advice | null> {
  const frameSources: (FrameSource | undefined)[] = [];
  let read = 0;
  for (let i = 0; i < stack.length && read < FRAMES_WITH_SOURCE; i++) {
    if (isNodeFrame(stack[i]!)) continue;
    read++;
    const text = await sources.get(stack[i]!.url);
    if (text === undefined) continue;
    // 1-based already (V8's call site); 0 when unknown.
    const fnLine = frames[i]?.[4] ?? 0;
    frameSources[i] = { text, ...(fnLine > 0 && { functionLine: fnLine }) };
  }
  return classifyPause({ stack, sources: frameSources, prompt: pauseLagMs <= promptPauseMs(captureAfterMs) });
}
