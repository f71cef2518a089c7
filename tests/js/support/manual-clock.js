// A clock for createSyncService whose time and timers move only when a test says.

/** @param {number} start Unix ms the clock starts at */
export function manualClock(start) {
  let now = start;
  const timers = new Map();
  let next = 1;
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = next++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (id) => timers.delete(id),
    /** Moves time by `ms` and runs the timers due. */
    advance(ms) {
      now += ms;
      for (const [id, timer] of [...timers]) {
        if (timer.at <= now) {
          timers.delete(id);
          timer.fn();
        }
      }
    },
    /** How many timers are waiting. */
    pending: () => timers.size,
  };
}
