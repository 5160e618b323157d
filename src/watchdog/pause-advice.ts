/**
 * The worker's side of advice: at a pause, read the source of the first
 * frames outside Node (`Debugger.getScriptSource`) and classify. Runs only
 * at stall time, in the worker; the request path never sees it. Scripts are
 * cached by id, bounded in count and size, since the same culprit stalls again.
 */
import { classifyPause, isNodeFrame, type FrameSource } from '../advice/classify';
import type { Advice } from '../advice/advice';
import type { StackFrame } from '../core/stall-report';
import type { ProtocolCallFrame } from './frames';

/** A pause that lands later than this after being asked for waited for a native call to return. */
export const PROMPT_PAUSE_MS = 25;
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

interface PausedFrame extends ProtocolCallFrame {
  functionLocation?: { scriptId: string; lineNumber: number };
}

/** Advice for one pause: `frames` as the protocol gave them, `stack` as normalised from them (same order). */
export async function adviseOnPause(
  frames: readonly PausedFrame[],
  stack: readonly StackFrame[],
  sources: ScriptSources,
  pauseLagMs: number,
): Promise<Advice | null> {
  const frameSources: (FrameSource | undefined)[] = [];
  let read = 0;
  for (let i = 0; i < stack.length && read < FRAMES_WITH_SOURCE; i++) {
    if (isNodeFrame(stack[i]!)) continue;
    read++;
    const frame = frames[i];
    const text = frame ? await sources.get(frame.location.scriptId) : undefined;
    if (text === undefined) continue;
    const fnLine = frame?.functionLocation?.scriptId === frame?.location.scriptId ? frame?.functionLocation?.lineNumber : undefined;
    frameSources[i] = { text, ...(fnLine !== undefined && { functionLine: fnLine + 1 }) };
  }
  return classifyPause({ stack, sources: frameSources, prompt: pauseLagMs <= PROMPT_PAUSE_MS });
}
