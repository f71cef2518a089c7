// Waits made free for the benchmarks: CPU is what they measure, not time asleep.

/**
 * Runs `body` with waits made free: timers fire on the next turn of the event
 * loop and move Date.now() on by their delay. workerd does not bill the time a
 * Worker waits, only the time it computes; on a VM, each real 1 ms wake-up of the
 * pacing costs Node more CPU in the kernel than the work around it.
 */
export async function withFreeWaits(body) {
  const { now: realNow } = Date;
  const { setTimeout: realSetTimeout, clearTimeout: realClearTimeout } = globalThis;
  let now = realNow();
  Date.now = () => now;
  globalThis.setTimeout = (callback, ms = 0, ...args) => {
    const due = now + Math.max(0, Number(ms) || 0);
    return setImmediate(() => {
      now = Math.max(now, due);
      callback(...args);
    });
  };
  globalThis.clearTimeout = (handle) =>
    handle?.constructor?.name === "Immediate" ? clearImmediate(handle) : realClearTimeout(handle);
  try {
    return await body();
  } finally {
    Date.now = realNow;
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
  }
}
