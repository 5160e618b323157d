// The demo's image pool: piscina runs this file in its worker threads. The
// one loopguard line watches the worker; its tasks are then named from this
// file and the export piscina calls (examples/demo/images.mjs#thumbnail),
// with no other code. Moving CPU work here is the right fix for the loop,
// and the worker now stalls instead: a large original takes ~300 ms of one
// core, and every thumbnail queued behind it on that worker waits.
import { watchThisThread } from 'loopguard/worker';

watchThisThread({ name: 'image-pool' });

/** Originals above this id are the large uploads (4000 px): their sharpen pass is what holds the worker. */
export const LARGE_FROM_ID = 1000;

// A convolution pass over the pixels, standing in for a real resize: CPU
// only, proportional to the image's area.
function sharpen(pixels) {
  let acc = 0;
  for (let i = 1; i < pixels - 1; i++) acc = (acc + ((i * 31) & 255) * 5 - ((i - 1) & 255) - ((i + 1) & 255)) & 0xffff;
  return acc;
}

export function thumbnail({ id }) {
  const large = id >= LARGE_FROM_ID;
  // ~300 ms for a large original on this machine's CPUs, ~1 ms for the usual one.
  const checksum = sharpen(large ? 200_000_000 : 400_000);
  return { id, width: 160, height: 120, checksum };
}
